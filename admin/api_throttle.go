package admin

import "net/http"

// The throttle endpoints of the admin API (design D5).

// throttleStatus lists the current blocks, or with username, connector
// and dn, address or key in the query, the open counters they name.
func (a *api) throttleStatus(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := ThrottleParams{Username: q.Get("username"), Connector: q.Get("connector"), DN: q.Get("dn"),
		Address: q.Get("address"), Key: q.Get("key")}
	var (
		cs  []ThrottleCounter
		err error
	)
	if p == (ThrottleParams{}) {
		cs, err = a.svc.ListThrottleBlocks(r.Context())
	} else {
		cs, err = a.svc.ThrottleStatus(r.Context(), p)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"counters": cs})
	return nil
}

func (a *api) clearThrottle(w http.ResponseWriter, r *http.Request) error {
	var p ThrottleParams
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	n, err := a.svc.ClearThrottle(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"cleared": n})
	return nil
}

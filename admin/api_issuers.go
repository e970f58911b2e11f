package admin

import (
	"net/http"

	"github.com/gorilla/mux"
)

// The trusted-issuer endpoints of the admin API (design D14).

func (a *api) listIssuers(w http.ResponseWriter, r *http.Request) error {
	l, err := a.svc.ListTrustedIssuers(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"issuers": l})
	return nil
}

func (a *api) createIssuer(w http.ResponseWriter, r *http.Request) error {
	var p TrustedIssuerParams
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	ti, err := a.svc.CreateTrustedIssuer(r.Context(), p)
	if err != nil {
		return err
	}
	w.Header().Set("Location", PathPrefix+"/issuers/"+ti.ID)
	writeJSON(w, http.StatusCreated, ti)
	return nil
}

func (a *api) getIssuer(w http.ResponseWriter, r *http.Request) error {
	ti, err := a.svc.GetTrustedIssuer(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ti)
	return nil
}

func (a *api) updateIssuer(w http.ResponseWriter, r *http.Request) error {
	var p TrustedIssuerPatch
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	ti, err := a.svc.UpdateTrustedIssuer(r.Context(), mux.Vars(r)["id"], p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ti)
	return nil
}

func (a *api) deleteIssuer(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteTrustedIssuer(r.Context(), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package admin

import (
	"net/http"

	"github.com/gorilla/mux"
)

// The clients endpoints of the admin API.

func (a *api) listClients(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.svc.ListClients(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": cs})
	return nil
}

func (a *api) createClient(w http.ResponseWriter, r *http.Request) error {
	var p ClientParams
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	c, err := a.svc.CreateClient(r.Context(), p)
	if err != nil {
		return err
	}
	w.Header().Set("Location", PathPrefix+"/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *api) getClient(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.GetClient(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *api) updateClient(w http.ResponseWriter, r *http.Request) error {
	var p ClientPatch
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	c, err := a.svc.UpdateClient(r.Context(), mux.Vars(r)["id"], p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *api) deleteClient(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteClient(r.Context(), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	var p RotateParams
	if err := decode(w, r, &p, true); err != nil {
		return err
	}
	s, err := a.svc.RotateClientSecret(r.Context(), mux.Vars(r)["id"], p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

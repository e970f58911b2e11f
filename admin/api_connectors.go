package admin

import (
	"net/http"

	"github.com/gorilla/mux"
)

// The connectors endpoints of the admin API.

func (a *api) listConnectors(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.svc.ListConnectors(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"connectors": cs})
	return nil
}

func (a *api) createConnector(w http.ResponseWriter, r *http.Request) error {
	var p ConnectorParams
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	c, err := a.svc.CreateConnector(r.Context(), p)
	if err != nil {
		return err
	}
	w.Header().Set("Location", PathPrefix+"/connectors/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *api) getConnector(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.GetConnector(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *api) updateConnector(w http.ResponseWriter, r *http.Request) error {
	var p ConnectorPatch
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	c, err := a.svc.UpdateConnector(r.Context(), mux.Vars(r)["id"], p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *api) deleteConnector(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteConnector(r.Context(), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

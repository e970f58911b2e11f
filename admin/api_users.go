package admin

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/storage"
)

// The users endpoints of the admin API.

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) error {
	var (
		us  []User
		err error
	)
	if name := r.URL.Query().Get("username"); name != "" {
		var u User
		u, err = a.svc.GetUserByUsername(r.Context(), name)
		us = []User{u}
		var fe *FieldError
		if errors.Is(err, storage.ErrNotFound) || errors.As(err, &fe) {
			us, err = []User{}, nil
		}
	} else {
		us, err = a.svc.ListUsers(r.Context())
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
	return nil
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) error {
	var p UserParams
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	u, err := a.svc.CreateUser(r.Context(), p)
	if err != nil {
		return err
	}
	w.Header().Set("Location", PathPrefix+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.svc.GetUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *api) updateUser(w http.ResponseWriter, r *http.Request) error {
	var p UserPatch
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	u, err := a.svc.UpdateUser(r.Context(), mux.Vars(r)["id"], p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *api) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteUser(r.Context(), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) setPassword(w http.ResponseWriter, r *http.Request) error {
	var p PasswordParams
	if err := decode(w, r, &p, true); err != nil {
		return err
	}
	generated, err := a.svc.SetPassword(r.Context(), mux.Vars(r)["id"], p)
	if err != nil {
		return err
	}
	if generated == "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, PasswordParams{Password: generated})
	return nil
}

func (a *api) disableUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.svc.DisableUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *api) enableUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.svc.EnableUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *api) addRoles(w http.ResponseWriter, r *http.Request) error {
	var p RolesParams
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	u, err := a.svc.AddUserRoles(r.Context(), mux.Vars(r)["id"], p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *api) removeRole(w http.ResponseWriter, r *http.Request) error {
	v := mux.Vars(r)
	u, err := a.svc.RemoveUserRoles(r.Context(), v["id"], RolesParams{Roles: []string{v["role"]}})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

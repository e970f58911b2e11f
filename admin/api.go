package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/storage"
)

// PathPrefix is where the admin API lives; mount NewHandler's handler on
// it (for example r.PathPrefix(admin.PathPrefix).Handler(h)).
const PathPrefix = "/admin/v1"

// OpenAPIPath serves the API's OpenAPI 3 document, without
// authentication: it describes the API and holds nothing secret.
const OpenAPIPath = PathPrefix + "/openapi.json"

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// NewHandler returns the admin HTTP API over svc. Every route but the
// OpenAPI document goes through auth (see NewAuth); a nil auth refuses
// every request with 401.
func NewHandler(svc *Service, auth func(http.Handler) http.Handler) http.Handler {
	return newRouter(svc, auth)
}

// newRouter lists every route of the admin API; the OpenAPI document
// describes exactly these (TestOpenAPIMatchesRoutes).
func newRouter(svc *Service, auth func(http.Handler) http.Handler) *mux.Router {
	if auth == nil {
		auth = func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				writeChallenge(w, http.StatusUnauthorized, "", "the admin API is not configured", "")
			})
		}
	}
	a := &api{svc: svc}
	r := mux.NewRouter()
	r.Handle(OpenAPIPath, openAPIHandler()).Methods(http.MethodGet)
	route := func(method, path string, fn func(http.ResponseWriter, *http.Request) error) {
		r.Handle(PathPrefix+path, auth(a.handle(fn))).Methods(method)
	}
	route(http.MethodGet, "/clients", a.listClients)
	route(http.MethodPost, "/clients", a.createClient)
	route(http.MethodGet, "/clients/{id}", a.getClient)
	route(http.MethodPatch, "/clients/{id}", a.updateClient)
	route(http.MethodDelete, "/clients/{id}", a.deleteClient)
	route(http.MethodPost, "/clients/{id}/rotate-secret", a.rotateSecret)
	route(http.MethodGet, "/users", a.listUsers)
	route(http.MethodPost, "/users", a.createUser)
	route(http.MethodGet, "/users/{id}", a.getUser)
	route(http.MethodPatch, "/users/{id}", a.updateUser)
	route(http.MethodDelete, "/users/{id}", a.deleteUser)
	route(http.MethodPut, "/users/{id}/password", a.setPassword)
	route(http.MethodPost, "/users/{id}/disable", a.disableUser)
	route(http.MethodPost, "/users/{id}/enable", a.enableUser)
	route(http.MethodPost, "/users/{id}/roles", a.addRoles)
	route(http.MethodDelete, "/users/{id}/roles/{role}", a.removeRole)
	route(http.MethodGet, "/connectors", a.listConnectors)
	route(http.MethodPost, "/connectors", a.createConnector)
	route(http.MethodGet, "/connectors/{id}", a.getConnector)
	route(http.MethodPatch, "/connectors/{id}", a.updateConnector)
	route(http.MethodDelete, "/connectors/{id}", a.deleteConnector)
	route(http.MethodGet, "/throttle", a.throttleStatus)
	route(http.MethodPost, "/throttle/clear", a.clearThrottle)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{Error: "not_found", Description: "no such admin API path"})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: "method_not_allowed", Description: "the path does not take this method"})
	})
	return r
}

type api struct{ svc *Service }

// apiError is the admin API's error body.
type apiError struct {
	Error       string `json:"error"`
	Field       string `json:"field,omitempty"`
	Description string `json:"error_description,omitempty"`
}

// requestError is a problem with the request itself (its body or media
// type), answered with its own status.
type requestError struct {
	status int
	code   string
	field  string
	desc   string
}

func (e *requestError) Error() string { return e.desc }

func badRequest(field, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, code: "invalid_request", field: field, desc: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handle turns a handler's error into the API's error responses. Client
// input never causes a 500: only an unexpected store failure does, and it
// is logged.
func (a *api) handle(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkRequestText(r)
		if err == nil {
			err = fn(w, r)
		}
		if err == nil {
			return
		}
		var (
			fe *FieldError
			nf *NotFoundError
			ce *ConflictError
			re *requestError
		)
		switch {
		case errors.As(err, &re):
			writeJSON(w, re.status, apiError{Error: re.code, Field: re.field, Description: re.desc})
		case errors.As(err, &fe):
			writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid_request", Field: fe.Field, Description: fe.Error()})
		case errors.As(err, &nf):
			writeJSON(w, http.StatusNotFound, apiError{Error: "not_found", Description: nf.Error()})
		case errors.As(err, &ce):
			writeJSON(w, http.StatusConflict, apiError{Error: "conflict", Field: ce.Field, Description: ce.Error()})
		case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			a.svc.logger.WarnContext(r.Context(), "admin API: store unavailable", "err", err)
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "temporarily_unavailable", Description: "the store is unavailable; retry later"})
		default:
			a.svc.logger.ErrorContext(r.Context(), "admin API", "method", r.Method, "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusInternalServerError, apiError{Error: "server_error", Description: "internal error"})
		}
	})
}

// decode reads a JSON body into v: at most MaxBodyBytes, application/json
// (or no Content-Type), no unknown fields, one value. An empty body is
// allowed only when optional.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &requestError{status: http.StatusUnsupportedMediaType, code: "invalid_request", desc: "the body must be application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return &requestError{status: http.StatusRequestEntityTooLarge, code: "invalid_request", desc: fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)}
	case err != nil:
		return badRequest("", "the body cannot be read: %v", err)
	}
	if field, bad := badJSONText("", body); bad {
		return badRequest(field, "%s: is not valid UTF-8 or contains a NUL character", fieldName(field))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if optional {
			return nil
		}
		return badRequest("", "a JSON body is required")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the body is not valid JSON")
	case errors.As(err, &typeErr):
		return badRequest(typeErr.Field, "%s: has the wrong type (want %s)", typeErr.Field, jsonType(typeErr.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(name, "%s: unknown field", name)
	default:
		return badRequest("", "the body cannot be read: %v", err)
	}
	if dec.More() {
		return badRequest("", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "the body holds more than one JSON value")
	}
	return nil
}

// jsonType names a Go type in JSON terms for error messages.
func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	}
	return "another type"
}

package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// errorBody is an RFC 6749 section 5.2 error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError writes err as an RFC 6749 section 5.2 response. It is the one
// place errors become HTTP: a storage outage is 503 with Retry-After (not
// fosite's 401 or 500), invalid_client carries WWW-Authenticate when the
// client tried Basic (section 5.2), and descriptions never carry internal
// detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")

	var te *ThrottleError
	if errors.As(err, &te) {
		// RFC 6749 has no code for it: invalid_request with HTTP 429.
		h.Set("Retry-After", retryAfterSeconds(te.RetryAfter))
		w.WriteHeader(http.StatusTooManyRequests)
		json.NewEncoder(w).Encode(errorBody{Error: errThrottled.ErrorField, Description: errThrottled.DescriptionField})
		return
	}
	if errors.Is(err, ErrHashBusy) {
		s.logger.WarnContext(r.Context(), "password hashing at capacity", "path", r.URL.Path)
		h.Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(errorBody{Error: "temporarily_unavailable", Description: "The authorization server is busy. Retry later."})
		return
	}
	if errors.Is(err, ErrDirectoryUnavailable) {
		// An LDAP directory could not check the password: an outage, not
		// a wrong password (RFC 6749 section 4.1.2.1's code, 503).
		s.logger.WarnContext(r.Context(), "directory unavailable", "path", r.URL.Path, "err", err)
		h.Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(errorBody{Error: "temporarily_unavailable", Description: "The user directory is temporarily unavailable. Retry later."})
		return
	}
	if errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		s.logger.WarnContext(r.Context(), "storage unavailable", "path", r.URL.Path, "err", err)
		h.Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(errorBody{Error: "temporarily_unavailable", Description: "The authorization server is temporarily unavailable. Retry later."})
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	status := rfc.StatusCode()
	if status >= 500 {
		s.logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
		if status == http.StatusInternalServerError {
			rfc = fosite.ErrServerError
		}
	}
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		status = http.StatusUnauthorized
		if _, _, ok := r.BasicAuth(); ok || strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
			h.Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
		}
	}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	desc := rfc.DescriptionField
	if rfc.HintField != "" {
		desc += " " + rfc.HintField
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Error: rfc.ErrorField, Description: desc})
}

// outcome is the RFC 6749 error code writeError answers for err, or "ok".
func outcome(err error) string {
	var te *ThrottleError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &te):
		return errThrottled.ErrorField
	case errors.Is(err, ErrHashBusy) || errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrDirectoryUnavailable):
		return "temporarily_unavailable"
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.StatusCode() == http.StatusInternalServerError {
		return fosite.ErrServerError.ErrorField
	}
	return rfc.ErrorField
}

// Errors Gatehouse raises before fosite sees a request.
var (
	errMethod = &fosite.RFC6749Error{ErrorField: "invalid_request", DescriptionField: "The request must use POST.", CodeField: http.StatusMethodNotAllowed}
	// errThrottled answers password guessing (design D5); RFC 6749 has no
	// code for it, so it is invalid_request with HTTP 429.
	errThrottled = &fosite.RFC6749Error{ErrorField: "invalid_request", DescriptionField: "Too many login attempts; retry later.", CodeField: http.StatusTooManyRequests}
	errTooBig    = &fosite.RFC6749Error{ErrorField: "invalid_request", DescriptionField: "The request body is too large.", CodeField: http.StatusRequestEntityTooLarge}
)

func errInvalidRequest(hint string) error {
	return fosite.ErrInvalidRequest.WithHint(hint)
}

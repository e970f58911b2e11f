package oauth

import (
	"errors"
	"mime"
	"net/http"
)

// multiValued are the parameters that may repeat: RFC 8707 section 2 and
// RFC 8693 section 2.1 allow several resource and audience values. Every
// other parameter appears at most once (RFC 6749 section 3.2).
var multiValued = map[string]bool{"resource": true, "audience": true}

// parseForm reads a POST form body of at most MaxBodyBytes, so that bad
// input gets an RFC 6749 error before fosite sees the request.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return errMethod
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return errInvalidRequest("The request body must be application/x-www-form-urlencoded.")
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return errTooBig
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errTooBig
		}
		return errInvalidRequest("The request body could not be parsed as a form.")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 && !multiValued[k] {
			return errInvalidRequest("Parameter " + k + " is included more than once.")
		}
	}
	// Parameters belong in the body; fosite reads r.Form in places, so
	// query parameters must not leak in.
	r.Form = r.PostForm
	return nil
}

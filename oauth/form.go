package oauth

import (
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/storage"
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
	return checkInput(r)
}

// paramLimits bound the parameters Gatehouse and fosite read, in bytes.
// They are above anything Gatehouse issues or the admin rules accept
// (admin/validate.go) and far below the body limit.
var paramLimits = map[string]int{
	"grant_type":      128,
	"client_id":       256,
	"client_secret":   512,
	"username":        2048, // 128 runes after NFC, more before it
	"password":        1024,
	"scope":           2048,
	"audience":        2048,
	"resource":        2048,
	"refresh_token":   maxTokenBytes,
	"token":           maxTokenBytes,
	"token_type_hint": 128,
}

// maxParamName bounds a parameter's name.
const maxParamName = 128

// checkInput is the one boundary for untrusted input on the token,
// introspection and revocation endpoints (design D9): every form parameter
// and the Basic credentials, as fosite decodes them (RFC 6749 section
// 2.3.1), must be text a store can hold, and a known parameter must be
// within its limit. Otherwise the answer is invalid_request, before any
// store or the password throttle sees the request. Descriptions name the
// parameter, never its value.
func checkInput(r *http.Request) error {
	for k, vs := range r.PostForm {
		if len(k) > maxParamName || !storage.ValidText(k) {
			return errInvalidRequest("A parameter name is not valid text or is too long.")
		}
		limit, known := paramLimits[k]
		for _, v := range vs {
			if !storage.ValidText(v) {
				return errInvalidRequest("Parameter " + k + " is not valid UTF-8 or contains a NUL byte.")
			}
			if known && len(v) > limit {
				return errInvalidRequest("Parameter " + k + " is too long.")
			}
		}
	}
	if id, secret, ok := r.BasicAuth(); ok {
		for _, c := range []struct {
			name, raw string
			limit     int
		}{{"client_id", id, paramLimits["client_id"]}, {"client_secret", secret, paramLimits["client_secret"]}} {
			v, err := url.QueryUnescape(c.raw)
			if err != nil {
				return errInvalidRequest("The Basic credentials are not form-encoded (RFC 6749 section 2.3.1).")
			}
			if !storage.ValidText(v) || len(v) > c.limit {
				return errInvalidRequest("The " + c.name + " in the Basic credentials is not valid UTF-8, contains a NUL byte or is too long.")
			}
		}
	}
	if tok := bearer(r); len(tok) > maxTokenBytes || !storage.ValidText(tok) {
		return errInvalidRequest("The bearer token is not valid text or is too long.")
	}
	return nil
}

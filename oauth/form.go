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

// paramLimit bounds a parameter Gatehouse or fosite reads, in bytes;
// known is false for any other. The limits are above anything Gatehouse
// issues or the admin rules accept (admin/validate.go) and far below the
// body limit.
func paramLimit(name string) (limit int, known bool) {
	switch name {
	case "grant_type", "token_type_hint", "subject_token_type", "actor_token_type", "requested_token_type":
		return 128, true
	case "client_id":
		return 256, true
	case "client_secret":
		return 512, true
	case "password":
		return 1024, true
	case "username": // 128 runes after NFC, more before it
		return 2048, true
	case "scope", "audience", "resource":
		return 2048, true
	case "refresh_token", "token", "subject_token", "actor_token":
		return maxTokenBytes, true
	case "assertion": // RFC 7523 section 2.1
		return maxTokenBytes, true
	}
	return 0, false
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
		limit, known := paramLimit(k)
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
		if err := checkBasic("client_id", id); err != nil {
			return err
		}
		if err := checkBasic("client_secret", secret); err != nil {
			return err
		}
	}
	if tok := bearer(r); len(tok) > maxTokenBytes || !storage.ValidText(tok) {
		return errInvalidRequest("The bearer token is not valid text or is too long.")
	}
	return nil
}

// checkBasic checks one Basic credential as fosite will read it: form-
// decoded (RFC 6749 section 2.3.1), then text within name's limit.
func checkBasic(name, raw string) error {
	v, err := url.QueryUnescape(raw)
	if err != nil {
		return errInvalidRequest("The Basic credentials are not form-encoded (RFC 6749 section 2.3.1).")
	}
	if limit, _ := paramLimit(name); !storage.ValidText(v) || len(v) > limit {
		return errInvalidRequest("The " + name + " in the Basic credentials is not valid UTF-8, contains a NUL byte or is too long.")
	}
	return nil
}

package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/storage"
)

// maxPathValue bounds an id, role or query value of an admin request, in
// bytes: far above any id Gatehouse makes or accepts (maxIDLen).
const maxPathValue = 256

// checkRequestText is the admin API's boundary for the values of a
// request's path and query (design D9): text a store can hold and within
// maxPathValue, or 400 naming the field, before any store sees them. Body
// values are checked by decode (badJSONText) and the admin rules.
func checkRequestText(r *http.Request) error {
	vars := mux.Vars(r)
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if v := vars[k]; len(v) > maxPathValue || !storage.ValidText(v) {
			return badRequest(k, "%s: is not valid UTF-8, contains a NUL character or is longer than %d bytes", k, maxPathValue)
		}
	}
	for k, vs := range r.URL.Query() {
		if !storage.ValidText(k) {
			return badRequest("", "a query parameter name is not valid UTF-8 or contains a NUL character")
		}
		for _, v := range vs {
			if len(v) > maxPathValue || !storage.ValidText(v) {
				return badRequest(k, "%s: is not valid UTF-8, contains a NUL character or is longer than %d bytes", k, maxPathValue)
			}
		}
	}
	return nil
}

// nul is how JSON writes a NUL character (a raw one is a syntax error).
const nul = `\u0000`

// maxTextDepth bounds how deep badJSONText looks for the field to name;
// below it the whole subtree is named. Each level parses its subtree once.
const maxTextDepth = 16

// badJSONText returns the path ("name", "claims.tenant") of the first
// string in the JSON document raw, member name or value, that no store can
// hold: invalid UTF-8 (which encoding/json would silently replace; RFC 8259
// section 8.1 requires UTF-8) or a NUL character (which PostgreSQL's jsonb
// refuses). A document that does not parse is left to the decoder. Most
// bodies need one scan: only one with invalid UTF-8 or an escaped NUL is
// taken apart to name the field.
func badJSONText(path string, raw []byte) (string, bool) {
	return badJSONTextAt(path, raw, 0)
}

func badJSONTextAt(path string, raw []byte, depth int) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || utf8.Valid(raw) && !bytes.Contains(raw, []byte(nul)) {
		return "", false
	}
	if depth >= maxTextDepth && (raw[0] == '{' || raw[0] == '[') {
		return path, true
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return "", false
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if strings.IndexByte(k, 0) >= 0 {
				// Name the object, not the hostile member name.
				return path, true
			}
			if f, bad := badJSONTextAt(p, m[k], depth+1); bad {
				return f, true
			}
		}
		if !utf8.Valid(raw) {
			// Every value is valid: a member name is not.
			return path, true
		}
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(raw, &a) != nil {
			return "", false
		}
		for _, v := range a {
			if f, bad := badJSONTextAt(path, v, depth+1); bad {
				return f, true
			}
		}
	case '"':
		var s string
		if !utf8.Valid(raw) || json.Unmarshal(raw, &s) == nil && strings.IndexByte(s, 0) >= 0 {
			return path, true
		}
	}
	return "", false
}

// fieldName names a field in a description; the body itself has none.
func fieldName(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

// validJSONText reports whether every string in v, a decoded JSON value,
// is text a store can hold.
func validJSONText(v any) bool {
	switch v := v.(type) {
	case string:
		return storage.ValidText(v)
	case []any:
		return !slices.ContainsFunc(v, func(e any) bool { return !validJSONText(e) })
	case map[string]any:
		for k, e := range v {
			if !storage.ValidText(k) || !validJSONText(e) {
				return false
			}
		}
	}
	return true
}

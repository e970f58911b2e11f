package admin

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/storage"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties           map[string]json.RawMessage `json:"properties"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
			AllOf                []json.RawMessage          `json:"allOf"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	dec := json.NewDecoder(strings.NewReader(string(OpenAPI())))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q; want 3.x", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIMatchesRoutes walks the router: every route is in the spec
// and every path and method of the spec is routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	routed := map[string]bool{}
	err := newRouter(nil, nil).Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no method restriction", path)
			return nil
		}
		for _, m := range methods {
			routed[strings.ToLower(m)+" "+path] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	specced := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				specced[method+" "+path] = true
			}
		}
	}
	for r := range routed {
		if !specced[r] {
			t.Errorf("route %q is not in openapi.json", r)
		}
	}
	for s := range specced {
		if !routed[s] {
			t.Errorf("openapi.json documents %q, which is not routed", s)
		}
	}
	if len(routed) < 16 {
		t.Errorf("walked %d routes; want at least 16", len(routed))
	}
}

// TestOpenAPISchemasMatchTypes checks that the request and response
// schemas name exactly the JSON fields of the Go types.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]any{
		"Client": Client{}, "ClientParams": ClientParams{}, "ClientPatch": ClientPatch{},
		"RotateParams": RotateParams{}, "RotatedSecret": RotatedSecret{}, "User": User{},
		"UserParams": UserParams{}, "UserPatch": UserPatch{}, "PasswordParams": PasswordParams{}, "RolesParams": RolesParams{},
		"Error":           apiError{},
		"ThrottleCounter": ThrottleCounter{}, "ThrottleParams": ThrottleParams{},
		"Connector": Connector{}, "ConnectorParams": ConnectorParams{}, "ConnectorPatch": ConnectorPatch{},
		"OIDCSettings": storage.OIDCSettings{}, "LDAPSettings": storage.LDAPSettings{},
	}
	for name, v := range types {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var want []string
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			want = append(want, tag)
		}
		var got []string
		for p := range schema.Properties {
			got = append(got, p)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s properties = %v; want the Go type's %v", name, got, want)
		}
		// Request bodies refuse unknown fields; the schema says so.
		if strings.HasSuffix(name, "Params") || strings.HasSuffix(name, "Patch") {
			if schema.AdditionalProperties == nil || *schema.AdditionalProperties {
				t.Errorf("schema %s allows additional properties; the API refuses them", name)
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	g := startGatehouse(t)
	resp, body := g.call(t, "", http.MethodGet, OpenAPIPath, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(body) != string(OpenAPI()) {
		t.Errorf("GET %s = %d %q; want the embedded document", OpenAPIPath, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

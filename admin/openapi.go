package admin

import (
	"embed"
	"net/http"
)

// files holds the OpenAPI 3 document of the admin API, kept in the
// repository as admin/openapi.json. An embed.FS is read-only, so no code
// can change the document at run time. TestOpenAPIMatchesRoutes checks that
// it lists exactly the routes newRouter serves.
//
//go:embed openapi.json
var files embed.FS

// OpenAPI returns the admin API's OpenAPI 3 document (JSON).
func OpenAPI() []byte {
	b, err := files.ReadFile("openapi.json")
	if err != nil {
		panic("admin: embedded openapi.json missing: " + err.Error())
	}
	return b
}

func openAPIHandler() http.Handler {
	doc := OpenAPI()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(doc)
	})
}

package server_test

import (
	"net/http"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chemledger/chemledger/pki"
	"github.com/chemledger/chemledger/server/servertest"
)

// TestOpenAPIDocument reads /openapi.json as a client would and checks
// that it is a valid OpenAPI 3.1 document that names the API, this build's
// version, a description and a licence, says mutual TLS is required for
// every call, and has every HTTP binding of http.yaml.
func TestOpenAPIDocument(t *testing.T) {
	s := startSecured(t, "", servertest.Options{})
	code, h, body := s.do(t, "US-CBP", pki.RoleAnalyst, http.MethodGet, "/openapi.json", nil)
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", code, h.Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("/openapi.json is not valid: %v", err)
	}

	wantVersion := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		wantVersion = bi.Main.Version
	}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"openapi", doc.OpenAPI[:min(2, len(doc.OpenAPI))], "3."},
		{"info.title", doc.Info.Title, "chemledger API"},
		{"info.version", doc.Info.Version, wantVersion},
		{"license.name", doc.Info.License.Name, "Apache-2.0"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !strings.Contains(doc.Info.Description, "mutual") || doc.Info.License.URL == "" {
		t.Errorf("info has description %q and licence URL %q; want a description that says mutual TLS, and a URL", doc.Info.Description, doc.Info.License.URL)
	}
	var mtls []string
	for name, ref := range doc.Components.SecuritySchemes {
		if ref.Value != nil && ref.Value.Type == "mutualTLS" {
			mtls = append(mtls, name)
		}
	}
	if len(mtls) != 1 {
		t.Fatalf("security schemes %v: want exactly one of type mutualTLS", doc.Components.SecuritySchemes)
	}
	if len(doc.Security) != 1 || doc.Security[0][mtls[0]] == nil {
		t.Errorf("top-level security = %v, want %s required for every operation", doc.Security, mtls[0])
	}
	for _, path := range apiBindings(t) {
		item := doc.Paths.Find(path)
		if item == nil {
			t.Errorf("binding %s is not in the document", path)
			continue
		}
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				t.Errorf("%s %s opts out of mutual TLS", method, path)
			}
		}
	}
}

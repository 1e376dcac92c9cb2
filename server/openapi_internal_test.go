package server

import (
	"strings"
	"testing"
)

func TestWithVersion(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		version string
		want    string // "" for an error
	}{
		{"placeholder", `{"info": {"title": "t", ` + versionPlaceholder + `}}`, "v1.2.3", `{"info": {"title": "t", "version": "v1.2.3"}}`},
		{"a version to quote", `{` + versionPlaceholder + `}`, `v0.0.0-2026"x`, `{"version": "v0.0.0-2026\"x"}`},
		{"no placeholder", `{"info": {"version": "1"}}`, "v1", ""},
		{"two placeholders", `{` + versionPlaceholder + `,` + versionPlaceholder + `}`, "v1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withVersion([]byte(tc.doc), tc.version)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("withVersion(%s, %q) = %s, want an error", tc.doc, tc.version, got)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("withVersion(%s, %q) = %s, %v; want %s", tc.doc, tc.version, got, err, tc.want)
			}
		})
	}
	// The embedded document has the placeholder, so the build version
	// does reach what is served.
	if !strings.Contains(string(servedOpenAPI()), `"version": "`+buildVersion()+`"`) {
		t.Errorf("served document does not carry the build version %q", buildVersion())
	}
}

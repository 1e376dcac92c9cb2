package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
)

// openAPIGenerated is the OpenAPI 3.1 document scripts/genproto converts
// from protoc-gen-openapiv2's Swagger 2.0 (internal/openapigen): the API's
// paths and schemas, its title, licence and mutualTLS security scheme.
//
//go:embed gateway/openapi/chemledger.openapi.json
var openAPIGenerated []byte

// servedOpenAPI is the document /openapi.json serves: the generated one
// with info.version set to this build's version, which generation cannot
// know.
var servedOpenAPI = sync.OnceValue(func() []byte {
	b, err := withVersion(openAPIGenerated, buildVersion())
	if err != nil {
		// The embedded document is generated and checked in CI (and by
		// TestOpenAPIDocument); without its placeholder, serving it as
		// generated is still the best answer.
		return openAPIGenerated
	}
	return b
})

// buildVersion is the main module's version as the go command stamped it
// (a tag, or a pseudo-version from the VCS), or "devel" for a build
// without one (go run, go test, a dirty tree without VCS stamping).
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// versionPlaceholder is info.version as internal/openapigen writes it.
const versionPlaceholder = `"version": "0.0.0-unversioned"`

// withVersion puts version in place of the generated document's
// placeholder, and nothing else: the document stays byte for byte what
// was generated and reviewed, in its order.
func withVersion(doc []byte, version string) ([]byte, error) {
	if n := bytes.Count(doc, []byte(versionPlaceholder)); n != 1 {
		return nil, fmt.Errorf("openapi document: %d version placeholders (%s), want 1", n, versionPlaceholder)
	}
	v, err := json.Marshal(version)
	if err != nil {
		return nil, err
	}
	return bytes.Replace(doc, []byte(versionPlaceholder), append([]byte(`"version": `), v...), 1), nil
}

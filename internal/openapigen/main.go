// Command openapigen turns the Swagger 2.0 document protoc-gen-openapiv2
// writes into the OpenAPI 3.1 document the service serves at
// /openapi.json. Swagger 2.0 has no way to say "mutual TLS"; OpenAPI 3.1
// does (a mutualTLS security scheme), and a client generator or a reader
// should learn from the document that a client certificate is required.
// It also gives the document a title, a description and a licence, which
// the generator leaves as the first proto file's name.
//
// scripts/genproto runs it after buf, so the converted document is
// committed and reproducible offline; the service fills in only its build
// version when it serves it.
//
// It must not be imported: it is a build step.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chemledger/chemledger/internal/atomicfile"
)

// The document's fixed parts. VersionPlaceholder is replaced by the
// service's build version when it serves the document (server/openapi.go
// looks for it).
const (
	title              = "chemledger API"
	VersionPlaceholder = "0.0.0-unversioned"
	licenseName        = "Apache-2.0"
	licenseURL         = "https://www.apache.org/licenses/LICENSE-2.0"
	schemeName         = "mutualTLS"
	description        = `A shared, tamper-evident ledger of precursor-chemical shipments, kept by the
customs agencies and competent national authorities of a coalition. Members
submit signed DSSE envelopes of shipment events (pre-export notification,
export, transit, import, receipt, seizure); each entry is a leaf of an RFC
6962 Merkle tree with signed C2SP checkpoints, so inclusion and consistency
can be verified with the tools Certificate Transparency uses. A detector
follows the log and raises explainable flags, which analysts list, open and
dispose of.

Every call needs a client certificate issued by the coalition's CA (mutual
TLS, TLS 1.3): the certificate names the member and its role (submitter,
analyst, auditor, admin), and each call is authorised by role. Errors are
google.rpc.Status bodies with an ErrorInfo reason and, for bad input,
BadRequest field violations. Every read and every refusal is recorded in a
hash-chained audit trail before the answer leaves.`
)

func main() {
	in := flag.String("in", "server/gateway/openapi/chemledger.swagger.json", "Swagger 2.0 input (protoc-gen-openapiv2's)")
	out := flag.String("out", "server/gateway/openapi/chemledger.openapi.json", "OpenAPI 3.1 output")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	doc, err := convert(b)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return atomicfile.Write(out, doc, 0o644)
}

// convert returns the OpenAPI 3.1 document for a Swagger 2.0 one, as
// indented JSON, validated.
func convert(swagger []byte) ([]byte, error) {
	var v2 openapi2.T
	if err := json.Unmarshal(swagger, &v2); err != nil {
		return nil, fmt.Errorf("parse Swagger 2.0: %w", err)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return nil, fmt.Errorf("convert to OpenAPI 3: %w", err)
	}
	// The conversion writes 3.0; nothing it emits means something else in
	// 3.1, and 3.1 is the version that has a mutualTLS scheme.
	v3.OpenAPI = "3.1.0"
	v3.Info = &openapi3.Info{
		Title:       title,
		Version:     VersionPlaceholder,
		Description: description,
		License:     &openapi3.License{Name: licenseName, URL: licenseURL},
	}
	v3.Servers = openapi3.Servers{{
		URL:         "https://{host}",
		Description: "the service's HTTPS listener (chemledgerd --http-addr)",
		Variables: map[string]*openapi3.ServerVariable{"host": {
			Default:     "localhost:8080",
			Description: "host and port of the listener; chemledgerd --dev listens on localhost:8080",
		}},
	}}
	if v3.Components == nil {
		v3.Components = &openapi3.Components{}
	}
	addRefusals(v3)
	v3.Components.SecuritySchemes = openapi3.SecuritySchemes{
		schemeName: &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type:        "mutualTLS",
			Description: "A client certificate issued by the coalition's CA, naming the member and its role in a URI SAN (spiffe://chemledger/member/MEMBER/ROLE). TLS 1.3 only.",
		}},
	}
	v3.Security = openapi3.SecurityRequirements{{schemeName: []string{}}}
	if err := v3.Validate(openapi3.NewLoader().Context); err != nil {
		return nil, fmt.Errorf("the converted document is not valid OpenAPI 3.1: %w", err)
	}
	return ordered(v3)
}

// refusals are the answers every operation can get before its handler
// runs: every call is authenticated, authorised by role and rate limited
// (server/access.go), so each operation lists them besides the generated
// default. Other errors stay under "default".
var refusals = []struct {
	code, description string
}{
	{"401", "The client certificate names no member, or a revoked certificate (UNAUTHENTICATED, ErrorInfo reason UNAUTHENTICATED)."},
	{"403", "The certificate's role may not make this call, or the records asked for are another member's (PERMISSION_DENIED)."},
	{"429", "The member is over its request rate (RESOURCE_EXHAUSTED, reason RATE_LIMITED); the Retry-After header says when to retry."},
}

func addRefusals(doc *openapi3.T) {
	status := &openapi3.SchemaRef{Ref: "#/components/schemas/rpcStatus"}
	if def := doc.Components.Schemas["rpcStatus"]; def != nil {
		status.Value = def.Value // resolved, for Validate
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, r := range refusals {
				d := r.description
				op.Responses.Set(r.code, &openapi3.ResponseRef{Value: &openapi3.Response{
					Description: &d,
					Content:     openapi3.NewContentWithJSONSchemaRef(status),
				}})
			}
		}
	}
}

// topLevel is the order a reader expects the document's parts in: what it
// is, where and how to call it, then the paths and the schemas.
var topLevel = []string{"openapi", "info", "servers", "security", "tags", "paths", "components"}

// ordered is doc as indented JSON with its top-level keys in topLevel's
// order (json.Marshal of kin-openapi's map would sort them: components
// first, the title last).
func ordered(doc *openapi3.T) ([]byte, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("{")
	for i, k := range append(topLevel, otherKeys(parts)...) {
		v, ok := parts[k]
		if !ok {
			continue
		}
		if i > 0 && out.Len() > 1 {
			out.WriteString(",")
		}
		kb, _ := json.Marshal(k)
		out.Write(kb)
		out.WriteString(":")
		out.Write(v)
	}
	out.WriteString("}")
	var ind bytes.Buffer
	if err := json.Indent(&ind, out.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	return append(ind.Bytes(), '\n'), nil
}

// otherKeys are the keys of parts not in topLevel, sorted, so nothing the
// converter adds is lost.
func otherKeys(parts map[string]json.RawMessage) []string {
	var ks []string
	for k := range parts {
		if !slices.Contains(topLevel, k) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

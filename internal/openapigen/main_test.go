package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedDocumentIsCurrent converts the committed Swagger document
// and compares the result with the committed OpenAPI 3.1 one, so a stale
// document fails go test even where buf is not installed (scripts/genproto
// --check also catches it).
func TestCommittedDocumentIsCurrent(t *testing.T) {
	dir := filepath.Join("..", "..", "server", "gateway", "openapi")
	swagger, err := os.ReadFile(filepath.Join(dir, "chemledger.swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "chemledger.openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := convert(swagger)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("chemledger.openapi.json is stale: run scripts/genproto")
	}
	for _, s := range []string{`"openapi": "3.1.0"`, `"type": "mutualTLS"`, `"title": "chemledger API"`, `"version": "` + VersionPlaceholder + `"`} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("converted document lacks %s", s)
		}
	}
}

func TestConvertRefusesGarbage(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`} {
		if _, err := convert([]byte(in)); err == nil {
			t.Errorf("convert(%q) succeeded", in)
		}
	}
}

package pki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRequestSignedByCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := InitCA("coalition test CA", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitCA("again", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"), 2); err == nil {
		t.Fatal("InitCA replaced an existing CA")
	}
	key, csrPath := filepath.Join(dir, "tls.key"), filepath.Join(dir, "tls.csr")
	if err := NewRequest("CA-CBSA", key, csrPath); err != nil {
		t.Fatal(err)
	}
	if err := NewRequest("CA-CBSA", key, csrPath); err == nil {
		t.Fatal("NewRequest overwrote an existing key")
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	csr, id, err := ReadRequest(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	if id.Member != "CA-CBSA" || id.Role != "" {
		t.Fatalf("request identity %+v, want CA-CBSA in every role", id)
	}
	for _, tt := range []struct{ role, want string }{{"", "CA-CBSA"}, {RoleAnalyst, "CA-CBSA/analyst"}} {
		certPEM, err := ca.SignRequest(csr, id, tt.role, 90*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		certPath := filepath.Join(dir, "cert-"+tt.role+".pem")
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		// The certificate and the member's own key make a working client
		// identity that chains to the CA.
		cfg, err := LoadClient(filepath.Join(dir, "ca.pem"), certPath, key)
		if err != nil {
			t.Fatalf("role %q: the signed certificate does not go with the member's key: %v", tt.role, err)
		}
		leaf, _ := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("role %q: %v", tt.role, err)
		}
		got, err := IdentityOf(leaf)
		if err != nil || got.String() != tt.want {
			t.Fatalf("role %q: identity %v (%v), want %s", tt.role, got, err, tt.want)
		}
	}
	if _, err := ca.SignRequest(csr, id, "root", time.Hour); err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("an unknown role was signed: %v", err)
	}
}

func TestReadRequestRefuses(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("t", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// A request for the gateway's identity must never become a member's
	// certificate, nor one whose signature does not match its key.
	gw, err := ca.Issue(CertSpec{URIs: []string{GatewayURI}, CommonName: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{URIs: gw.Leaf.URIs}
	der, err := x509.CreateCertificateRequest(nil, tmpl, gw.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	gwPath := filepath.Join(dir, "gw.csr")
	os.WriteFile(gwPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644)
	if _, _, err := ReadRequest(gwPath); err == nil {
		t.Error("a request for the gateway identity was accepted")
	}
	if err := NewRequest("CA-CBSA", filepath.Join(dir, "k"), filepath.Join(dir, "r.csr")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "r.csr"))
	block, _ := pem.Decode(b)
	block.Bytes[len(block.Bytes)-5] ^= 1 // inside the signature
	os.WriteFile(filepath.Join(dir, "bad.csr"), pem.EncodeToMemory(block), 0o644)
	if _, _, err := ReadRequest(filepath.Join(dir, "bad.csr")); err == nil {
		t.Error("a request with a broken signature was accepted")
	}
	if err := NewRequest("cbsa", filepath.Join(dir, "k2"), filepath.Join(dir, "r2.csr")); err == nil {
		t.Error("a request for a malformed member id was made")
	}
}

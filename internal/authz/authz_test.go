package authz

import (
	"flag"
	"os"
	"testing"

	"github.com/chemledger/chemledger/pki"
)

var update = flag.Bool("update", false, "rewrite the golden matrix")

// TestMatrixGolden: the matrix cannot change without the golden file, which
// reviewers read, changing with it.
func TestMatrixGolden(t *testing.T) {
	const golden = "testdata/matrix.golden"
	got := Table()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("the authorisation matrix differs from %s (go test ./internal/authz -update to accept):\n%s", golden, got)
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      Principal
		method string
		want   Scope
	}{
		{"submitter writes as itself", Principal{Member: "MX-ANAM", Roles: []string{pki.RoleSubmitter}}, ledgerSvc + "CreateEntry", Own},
		{"analyst cannot submit", Principal{Member: "MX-ANAM", Roles: []string{pki.RoleAnalyst}}, ledgerSvc + "CreateEntry", Deny},
		{"submitter cannot read flags", Principal{Member: "MX-ANAM", Roles: []string{pki.RoleSubmitter}}, analystSvc + "ListFlags", Deny},
		{"auditor reads hashes", Principal{Member: "UN-INCB", Roles: []string{pki.RoleAuditor}}, ledgerSvc + "GetEntry", Hashes},
		{"widest role wins", Principal{Member: "US-CBP", Roles: []string{pki.RoleSubmitter, pki.RoleAnalyst}}, ledgerSvc + "GetEntry", Any},
		{"admin rebuilds", Principal{Member: "US-CBP", Roles: []string{pki.RoleAdmin}}, adminSvc + "RebuildDerivedState", Any},
		{"analyst cannot rebuild", Principal{Member: "US-CBP", Roles: []string{pki.RoleAnalyst}}, adminSvc + "RebuildDerivedState", Deny},
		{"unknown method denied", Principal{Member: "US-CBP", Roles: pki.Roles}, "/chemledger.v1.LedgerService/DeleteEntry", Deny},
		{"unknown role gives nothing", Principal{Member: "US-CBP", Roles: []string{"root"}}, ledgerSvc + "GetCheckpoint", Deny},
		{"no roles gives nothing", Principal{Member: "US-CBP"}, ledgerSvc + "GetCheckpoint", Deny},
		{"insecure dev mode allows", Principal{Insecure: true}, adminSvc + "RebuildDerivedState", Any},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.p, tc.method); got != tc.want {
				t.Errorf("Decide(%v, %s) = %v, want %v", tc.p, tc.method, got, tc.want)
			}
		})
	}
}

package datadir

import (
	"os"
	"testing"

	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
)

func TestEnsureDevIsIdempotent(t *testing.T) {
	l := Layout{Dir: t.TempDir()}
	if err := EnsureDev(l); err != nil {
		t.Fatal(err)
	}
	before := readAll(t, l)
	if err := EnsureDev(l); err != nil {
		t.Fatal(err)
	}
	if after := readAll(t, l); after != before {
		t.Fatalf("a second EnsureDev changed the data dir:\nbefore %s\nafter  %s", before, after)
	}
	reg, err := members.Load(l.Members())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range DemoMembers {
		p, err := members.ReadPrivateKey(l.MemberKey(d.ID))
		if err != nil {
			t.Fatal(err)
		}
		k, ok := reg.Key(p.KeyID)
		if !ok || k.MemberID != d.ID || string(k.Public) != string(p.Public().Ed25519) {
			t.Errorf("member %s: key %q in members file = %+v, %v", d.ID, p.KeyID, k, ok)
		}
	}
}

func TestMissingVerifierKeyIsRederived(t *testing.T) {
	l := Layout{Dir: t.TempDir()}
	if err := EnsureDev(l); err != nil {
		t.Fatal(err)
	}
	want, err := ReadLogVerifierKey(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.LogPub()); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDev(l); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLogVerifierKey(l)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("re-derived verifier key %q, want %q", got, want)
	}
	signer, err := ReadLogSigner(l)
	if err != nil {
		t.Fatal(err)
	}
	if signer.Name() != DevOrigin {
		t.Fatalf("signer name %q, want %q", signer.Name(), DevOrigin)
	}
}

func readAll(t *testing.T, l Layout) string {
	t.Helper()
	var out string
	for _, p := range []string{l.LogKey(), l.LogPub(), l.Members(), l.MemberKey("US-CBP")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out += string(b)
	}
	return out
}

// TestEnsureDevGrantsRolesToAnOldMembersFile: a data directory from before
// members had roles keeps working: dev mode grants every role, once; a file
// that already names roles is left alone.
func TestEnsureDevGrantsRolesToAnOldMembersFile(t *testing.T) {
	l := Layout{Dir: t.TempDir()}
	if err := EnsureDev(l); err != nil {
		t.Fatal(err)
	}
	reg, err := members.Load(l.Members())
	if err != nil {
		t.Fatal(err)
	}
	ms := reg.Members()
	for i := range ms {
		ms[i].Roles = nil
	}
	if err := members.Write(l.Members(), ms); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDev(l); err != nil {
		t.Fatal(err)
	}
	if reg, err = members.Load(l.Members()); err != nil {
		t.Fatal(err)
	}
	for _, m := range reg.Members() {
		if len(m.Roles) != len(pki.Roles) {
			t.Fatalf("member %s has roles %v after EnsureDev, want %v", m.ID, m.Roles, pki.Roles)
		}
	}

	ms = reg.Members()
	for i := range ms {
		ms[i].Roles = nil
	}
	ms[0].Roles = []string{"auditor"}
	if err := members.Write(l.Members(), ms); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(l.Members())
	if err := EnsureDev(l); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(l.Members()); string(after) != string(before) {
		t.Errorf("EnsureDev rewrote a members file that names roles")
	}
}

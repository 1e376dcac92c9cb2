package datadir

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
	if !strings.HasPrefix(signer.Name(), DevOriginPrefix) {
		t.Fatalf("signer name %q, want one beginning %q", signer.Name(), DevOriginPrefix)
	}
}

// TestDevOriginUniquePerDataDir: two dev logs never share an origin (a
// witness would take them for one log and their two trees for a fork),
// and a dev log keeps its origin across starts.
func TestDevOriginUniquePerDataDir(t *testing.T) {
	origin := func(l Layout) string {
		t.Helper()
		s, err := ReadLogSigner(l)
		if err != nil {
			t.Fatal(err)
		}
		return s.Name()
	}
	seen := map[string]string{}
	for i := range 8 {
		l := Layout{Dir: filepath.Join(t.TempDir(), fmt.Sprint(i))}
		if err := EnsureDev(l); err != nil {
			t.Fatal(err)
		}
		o := origin(l)
		if !regexp.MustCompile(`^chemledger\.dev/[0-9a-f]{8}$`).MatchString(o) {
			t.Errorf("dev origin %q, want chemledger.dev/ and 8 hex digits", o)
		}
		if other, ok := seen[o]; ok {
			t.Errorf("data dirs %s and %s have the same dev origin %q", other, l.Dir, o)
		}
		seen[o] = l.Dir
		if err := EnsureDev(l); err != nil {
			t.Fatal(err)
		}
		if again := origin(l); again != o {
			t.Errorf("second EnsureDev changed the origin of %s from %q to %q", l.Dir, o, again)
		}
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

// TestInspect: a file counts only when it has bytes, since bbolt makes a
// new database of an empty file.
func TestInspect(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]int // file name → size
		want  State
	}{
		{name: "empty dir", want: State{}},
		{name: "members and certificates only", files: map[string]int{"members.json": 10}, want: State{}},
		{name: "key only", files: map[string]int{"log.key": 90}, want: State{LogKey: true}},
		{name: "key, ledger truncated to zero", files: map[string]int{"log.key": 90, "ledger.db": 0, "audit.db": 32768}, want: State{LogKey: true, Audit: true}},
		{name: "whole log", files: map[string]int{"log.key": 90, "ledger.db": 32768, "audit.db": 32768}, want: State{LogKey: true, Ledger: true, Audit: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Layout{Dir: t.TempDir()}
			for name, size := range tt.files {
				if err := os.WriteFile(filepath.Join(l.Dir, name), make([]byte, size), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Inspect(l)
			if err != nil || got != tt.want {
				t.Fatalf("Inspect(%v) = %+v, %v; want %+v", tt.files, got, err, tt.want)
			}
			if got.Empty() != (tt.want == State{}) {
				t.Errorf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
	if _, err := Inspect(Layout{Dir: "/nonexistent/chemledger"}); err != nil {
		t.Errorf("Inspect of a missing dir: %v, want an empty state", err)
	}
}

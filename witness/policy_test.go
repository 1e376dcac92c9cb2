package witness_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/witness"
)

type cosigner struct {
	vkey   string
	signer note.Signer
}

func newCosigner(tb testing.TB, name string) cosigner {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		tb.Fatal(err)
	}
	cv, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return cosigner{cv, s}
}

func TestCheck(t *testing.T) {
	lskey, lvkey, _ := note.GenerateKey(rand.Reader, "log.example/a")
	logSigner, _ := note.NewSigner(lskey)
	a, b, c := newCosigner(t, "a.example"), newCosigner(t, "b.example"), newCosigner(t, "c.example")
	policy := fmt.Sprintf(`# the coalition's witnesses
log %s
witness A %s https://a.example/w
witness B %s
witness C %s http://127.0.0.1:1234/
group ab any A B
group two 2 ab C
quorum two
`, lvkey, a.vkey, b.vkey, c.vkey)
	p, err := witness.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	if p.Witnesses[2].URL != "http://127.0.0.1:1234" || p.Witnesses[1].URL != "" || len(p.LogKeys) != 1 {
		t.Fatalf("parsed %+v", p)
	}
	body := "log.example/a\n5\n" + strings.Repeat("A", 43) + "=\n"
	sign := func(signers ...note.Signer) []byte {
		n, err := note.Sign(&note.Note{Text: body}, append([]note.Signer{logSigner}, signers...)...)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name    string
		signers []note.Signer
		ok      bool
	}{
		{"nobody", nil, false},
		{"A only", []note.Signer{a.signer}, false},
		{"A and B are one group", []note.Signer{a.signer, b.signer}, false},
		{"A and C", []note.Signer{a.signer, c.signer}, true},
		{"B and C", []note.Signer{b.signer, c.signer}, true},
		{"all", []note.Signer{a.signer, b.signer, c.signer}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Check(sign(tc.signers...))
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, witness.ErrNoQuorum)) {
				t.Errorf("Check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// A cosignature over other text (here: another size) is not A's.
	good := sign(a.signer, c.signer)
	forged := bytes.Replace(good, []byte("\n5\n"), []byte("\n6\n"), 1)
	if err := p.Check(forged); err == nil {
		t.Errorf("Check accepted cosignatures over another checkpoint")
	}
}

func TestParsePolicyErrors(t *testing.T) {
	a := newCosigner(t, "a.example")
	for _, tc := range []struct{ name, text, want string }{
		{"no quorum", "witness A " + a.vkey + "\n", "no quorum line"},
		{"unknown keyword", "witnes A " + a.vkey + "\nquorum A\n", `unknown keyword "witnes"`},
		{"forward reference", "group g 1 A\nwitness A " + a.vkey + "\nquorum g\n", "not defined above"},
		{"threshold too big", "witness A " + a.vkey + "\ngroup g 2 A\nquorum g\n", "threshold"},
		{"not a key", "witness A a.example+0000+AAAA\nquorum A\n", "cosignature/v1"},
		{"duplicate", "witness A " + a.vkey + "\nwitness A " + a.vkey + "\nquorum A\n", "defined twice"},
		{"keyword as name", "witness all " + a.vkey + "\nquorum all\n", "keyword"},
		{"bad URL", "witness A " + a.vkey + " ftp://x\nquorum A\n", "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := witness.ParsePolicy([]byte(tc.text))
			if err == nil || !errors.Is(err, witness.ErrPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePolicy(%q) = %v, want an ErrPolicy containing %q", tc.text, err, tc.want)
			}
		})
	}
	p, err := witness.ParsePolicy([]byte("quorum none\n"))
	if err != nil || p.Check([]byte("anything")) != nil {
		t.Errorf("quorum none: %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("witness A a+00000000+BAAA https://x\ngroup g all A\nquorum g\n"))
	f.Add([]byte("log x+1+2\nquorum none\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		witness.ParsePolicy(b)
	})
}

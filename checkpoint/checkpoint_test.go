package checkpoint_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/chemledger/chemledger/checkpoint"
)

const origin = "test.chemledger/log"

// newKey returns a note signer and verifier named name.
func newKey(tb testing.TB, name string) (note.Signer, note.Verifier) {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return s, v
}

// root returns a distinct 32-byte root for seed.
func root(seed string) []byte { return rfc6962.DefaultHasher.HashLeaf([]byte(seed)) }

// signText signs arbitrary note text, bypassing checkpoint.Sign's checks.
func signText(tb testing.TB, text string, s note.Signer) []byte {
	tb.Helper()
	n, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		tb.Fatalf("sign %q: %v", text, err)
	}
	return n
}

func TestSignOpenRoundTrip(t *testing.T) {
	s, v := newKey(t, origin)
	for _, tc := range []struct {
		name string
		cp   checkpoint.Checkpoint
	}{
		{name: "empty tree", cp: checkpoint.Checkpoint{Origin: origin, Size: 0, Root: rfc6962.DefaultHasher.EmptyRoot()}},
		{name: "one entry", cp: checkpoint.Checkpoint{Origin: origin, Size: 1, Root: root("a")}},
		{name: "largest size", cp: checkpoint.Checkpoint{Origin: origin, Size: 1<<64 - 1, Root: root("b")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := checkpoint.Sign(tc.cp, s)
			if err != nil {
				t.Fatalf("Sign(%+v): %v", tc.cp, err)
			}
			if !bytes.HasPrefix(signed, []byte(tc.cp.Body()+"\n— "+origin+" ")) {
				t.Errorf("Sign(%+v) = %q, want the body %q then a signature line", tc.cp, signed, tc.cp.Body())
			}
			got, err := checkpoint.Open(signed, origin, v)
			if err != nil {
				t.Fatalf("Open(%q): %v", signed, err)
			}
			if !got.Equal(tc.cp) {
				t.Errorf("Open(Sign(%+v)) = %+v", tc.cp, got)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	s, _ := newKey(t, origin)
	for _, tc := range []struct {
		name string
		cp   checkpoint.Checkpoint
	}{
		{name: "empty origin", cp: checkpoint.Checkpoint{Origin: "", Size: 1, Root: root("a")}},
		{name: "origin with a newline", cp: checkpoint.Checkpoint{Origin: "a\nb", Size: 1, Root: root("a")}},
		{name: "origin with surrounding space", cp: checkpoint.Checkpoint{Origin: " " + origin, Size: 1, Root: root("a")}},
		{name: "31-byte root", cp: checkpoint.Checkpoint{Origin: origin, Size: 1, Root: root("a")[:31]}},
		{name: "no root", cp: checkpoint.Checkpoint{Origin: origin, Size: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := checkpoint.Sign(tc.cp, s); err == nil {
				t.Errorf("Sign(%+v) = %q, want an error", tc.cp, got)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	s, v := newKey(t, origin)
	otherS, _ := newKey(t, origin) // same name, another key
	good := checkpoint.Checkpoint{Origin: origin, Size: 7, Root: root("a")}
	signed, err := checkpoint.Sign(good, s)
	if err != nil {
		t.Fatal(err)
	}
	goodRoot := base64.StdEncoding.EncodeToString(good.Root)
	rootOf31 := base64.StdEncoding.EncodeToString(good.Root[:31])
	for _, tc := range []struct {
		name   string
		signed []byte
		origin string
		// malformed: the failure is in the checkpoint text, not the
		// signature, and wraps ErrMalformed.
		malformed bool
	}{
		{name: "wrong key", signed: mustSign(t, good, otherS), origin: origin},
		{name: "other origin", signed: signed, origin: "other.example/log", malformed: true},
		{name: "tampered size", signed: bytes.Replace(signed, []byte("\n7\n"), []byte("\n8\n"), 1), origin: origin},
		{name: "tampered root", signed: bytes.Replace(signed, []byte(goodRoot), []byte(base64.StdEncoding.EncodeToString(root("b"))), 1), origin: origin},
		{name: "tampered origin", signed: bytes.Replace(signed, []byte(origin+"\n7"), []byte(origin+"x\n7"), 1), origin: origin + "x"},
		{name: "signature removed", signed: signed[:bytes.Index(signed, []byte("\n\n"))+2], origin: origin},
		{name: "not a note", signed: []byte(good.Body()), origin: origin},
		{name: "empty", signed: nil, origin: origin},
		{name: "extension line", signed: signText(t, good.Body()+"extension\n", s), origin: origin, malformed: true},
		{name: "two extension lines", signed: signText(t, good.Body()+"a\nb\n", s), origin: origin, malformed: true},
		{name: "missing root line", signed: signText(t, origin+"\n7\n", s), origin: origin, malformed: true},
		{name: "non-canonical size", signed: signText(t, origin+"\n007\n"+goodRoot+"\n", s), origin: origin, malformed: true},
		{name: "signed size", signed: signText(t, origin+"\n+7\n"+goodRoot+"\n", s), origin: origin, malformed: true},
		{name: "negative size", signed: signText(t, origin+"\n-7\n"+goodRoot+"\n", s), origin: origin, malformed: true},
		{name: "size overflows uint64", signed: signText(t, origin+"\n18446744073709551616\n"+goodRoot+"\n", s), origin: origin, malformed: true},
		{name: "hex size", signed: signText(t, origin+"\n0x7\n"+goodRoot+"\n", s), origin: origin, malformed: true},
		{name: "bad base64 root", signed: signText(t, origin+"\n7\n"+strings.Repeat("!", 44)+"\n", s), origin: origin, malformed: true},
		{name: "URL-safe base64 root", signed: signText(t, origin+"\n7\n"+base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))+"\n", s), origin: origin, malformed: true},
		{name: "unpadded root", signed: signText(t, origin+"\n7\n"+strings.TrimRight(goodRoot, "=")+"\n", s), origin: origin, malformed: true},
		{name: "31-byte root", signed: signText(t, origin+"\n7\n"+rootOf31+"\n", s), origin: origin, malformed: true},
		{name: "33-byte root", signed: signText(t, origin+"\n7\n"+base64.StdEncoding.EncodeToString(append(root("a"), 0))+"\n", s), origin: origin, malformed: true},
		{name: "origin with trailing space", signed: signText(t, origin+" \n7\n"+goodRoot+"\n", s), origin: origin + " ", malformed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkpoint.Open(tc.signed, tc.origin, v)
			if err == nil {
				t.Fatalf("Open(%q, %q) = %+v, want an error", tc.signed, tc.origin, got)
			}
			if tc.malformed && !errors.Is(err, checkpoint.ErrMalformed) {
				t.Errorf("Open(%q, %q) = %v, want ErrMalformed", tc.signed, tc.origin, err)
			}
		})
	}
}

func mustSign(tb testing.TB, c checkpoint.Checkpoint, s note.Signer) []byte {
	tb.Helper()
	n, err := checkpoint.Sign(c, s)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestParseRejects covers checkpoint text no signer can produce, such as a
// body without its final newline.
func TestParseRejects(t *testing.T) {
	goodRoot := base64.StdEncoding.EncodeToString(root("a"))
	for _, tc := range []struct {
		name string
		text string
	}{
		{name: "empty", text: ""},
		{name: "missing trailing newline", text: origin + "\n7\n" + goodRoot},
		{name: "CRLF line ends", text: origin + "\r\n7\r\n" + goodRoot + "\r\n"},
		{name: "empty origin", text: "\n7\n" + goodRoot + "\n"},
		{name: "empty size", text: origin + "\n\n" + goodRoot + "\n"},
		{name: "non-canonical size", text: origin + "\n007\n" + goodRoot + "\n"},
		{name: "size with space", text: origin + "\n 7\n" + goodRoot + "\n"},
		{name: "extra blank line", text: origin + "\n7\n" + goodRoot + "\n\n"},
		{name: "root with trailing space", text: origin + "\n7\n" + goodRoot + " \n"},
		{name: "bad base64 root", text: origin + "\n7\n%%%%\n"},
		{name: "non-canonical base64 root", text: origin + "\n7\n" + goodRoot[:42] + "B=\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := checkpoint.Parse(tc.text); !errors.Is(err, checkpoint.ErrMalformed) {
				t.Errorf("Parse(%q) = %+v, %v; want ErrMalformed", tc.text, got, err)
			}
		})
	}
}

func TestVerifyProofs(t *testing.T) {
	tree := testonly.New(rfc6962.DefaultHasher)
	for i := range 13 {
		tree.AppendData([]byte{byte(i)})
	}
	at := func(o string, n uint64) checkpoint.Checkpoint {
		return checkpoint.Checkpoint{Origin: o, Size: n, Root: tree.HashAt(n)}
	}
	consistency := func(m, n uint64) [][]byte {
		p, err := tree.ConsistencyProof(m, n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name         string
		older, newer checkpoint.Checkpoint
		proof        [][]byte
		ok           bool
	}{
		{name: "prefix", older: at(origin, 5), newer: at(origin, 13), proof: consistency(5, 13), ok: true},
		{name: "same tree", older: at(origin, 13), newer: at(origin, 13), ok: true},
		{name: "from the empty tree", older: at(origin, 0), newer: at(origin, 13), ok: true},
		{name: "from the empty tree with hashes", older: at(origin, 0), newer: at(origin, 13), proof: [][]byte{root("x")}},
		{name: "older larger than newer", older: at(origin, 13), newer: at(origin, 5), proof: consistency(5, 13)},
		{name: "older larger than newer, no proof", older: at(origin, 6), newer: at(origin, 5)},
		{name: "different origins", older: at("other.example/log", 5), newer: at(origin, 13), proof: consistency(5, 13)},
		{name: "same size, other root", older: checkpoint.Checkpoint{Origin: origin, Size: 13, Root: root("x")}, newer: at(origin, 13)},
		{name: "fork", older: checkpoint.Checkpoint{Origin: origin, Size: 5, Root: root("x")}, newer: at(origin, 13), proof: consistency(5, 13)},
		{name: "wrong proof", older: at(origin, 6), newer: at(origin, 13), proof: consistency(5, 13)},
	} {
		t.Run("consistency/"+tc.name, func(t *testing.T) {
			err := tc.newer.VerifyConsistency(tc.older, tc.proof)
			if (err == nil) != tc.ok {
				t.Errorf("%+v.VerifyConsistency(%+v, %x) = %v, want ok %v", tc.newer, tc.older, tc.proof, err, tc.ok)
			}
		})
	}

	cp := at(origin, 13)
	p, err := tree.InclusionProof(4, 13)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		index    uint64
		leafHash []byte
		proof    [][]byte
		ok       bool
	}{
		{name: "valid", index: 4, leafHash: checkpoint.LeafHash([]byte{4}), proof: p, ok: true},
		{name: "other index", index: 5, leafHash: checkpoint.LeafHash([]byte{4}), proof: p},
		{name: "other leaf", index: 4, leafHash: checkpoint.LeafHash([]byte{5}), proof: p},
		{name: "short proof", index: 4, leafHash: checkpoint.LeafHash([]byte{4}), proof: p[1:]},
		{name: "index beyond size", index: 13, leafHash: checkpoint.LeafHash([]byte{4}), proof: p},
	} {
		t.Run("inclusion/"+tc.name, func(t *testing.T) {
			err := cp.VerifyInclusion(tc.index, tc.leafHash, tc.proof)
			if (err == nil) != tc.ok {
				t.Errorf("VerifyInclusion(%d, %x, %x) in tree %d = %v, want ok %v", tc.index, tc.leafHash, tc.proof, cp.Size, err, tc.ok)
			}
		})
	}
}

func TestLeafHash(t *testing.T) {
	// RFC 6962 leaf hash of the empty leaf: SHA-256(0x00).
	want := testonly.NodeHashes()[0][0]
	if got := checkpoint.LeafHash(nil); !bytes.Equal(got, want) {
		t.Errorf("LeafHash(nil) = %x, want %x", got, want)
	}
}

func FuzzParse(f *testing.F) {
	goodRoot := base64.StdEncoding.EncodeToString(root("a"))
	for _, seed := range []string{
		origin + "\n7\n" + goodRoot + "\n",
		origin + "\n0\n" + base64.StdEncoding.EncodeToString(rfc6962.DefaultHasher.EmptyRoot()) + "\n",
		origin + "\n18446744073709551615\n" + goodRoot + "\n",
		origin + "\n007\n" + goodRoot + "\n",
		origin + "\n7\n" + goodRoot,
		origin + "\n7\n" + goodRoot + "\nextension\n",
		origin + "\n7\n" + goodRoot[:40] + "\n",
		"\n\n\n",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := checkpoint.Parse(text)
		if err != nil {
			if !errors.Is(err, checkpoint.ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, want an error wrapping ErrMalformed", text, err)
			}
			return
		}
		if got := c.Body(); got != text {
			t.Fatalf("Parse(%q).Body() = %q, want the same text", text, got)
		}
		if len(c.Root) != 32 {
			t.Fatalf("Parse(%q) root is %d bytes", text, len(c.Root))
		}
	})
}

// FuzzVerifyInclusion: random proofs never panic the verifier, and where
// the proof's shape is right for the index and size, the root it implies is
// accepted by this package and by an independent RFC 6962 implementation
// (golang.org/x/mod/sumdb/tlog) alike, and a root with one bit flipped by
// neither.
func FuzzVerifyInclusion(f *testing.F) {
	f.Add(uint64(0), uint64(1), []byte{}, []byte("leaf"))
	f.Add(uint64(3), uint64(8), bytes.Repeat([]byte{7}, 96), []byte("leaf"))
	f.Add(uint64(5), uint64(7), bytes.Repeat([]byte{1}, 96), []byte("x"))
	f.Fuzz(func(t *testing.T, index, size uint64, proofBytes, leaf []byte) {
		if size == 0 || size > 1<<40 || len(proofBytes) > 64*32 {
			return
		}
		var hashes [][]byte
		var tproof tlog.RecordProof
		for len(proofBytes) >= 32 {
			hashes = append(hashes, proofBytes[:32])
			var th tlog.Hash
			copy(th[:], proofBytes[:32])
			tproof = append(tproof, th)
			proofBytes = proofBytes[32:]
		}
		lh := checkpoint.LeafHash(leaf)
		root, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, index, size, lh, hashes)
		if err != nil {
			// A proof of the wrong shape: nothing may accept it.
			c := checkpoint.Checkpoint{Origin: "fuzz", Size: size, Root: lh}
			if c.VerifyInclusion(index, lh, hashes) == nil && !(size == 1 && len(hashes) == 0) {
				t.Fatalf("a malformed proof (index %d, size %d, %d hashes) was accepted", index, size, len(hashes))
			}
			return
		}
		var troot, tleaf tlog.Hash
		copy(troot[:], root)
		copy(tleaf[:], lh)
		c := checkpoint.Checkpoint{Origin: "fuzz", Size: size, Root: root}
		if err := c.VerifyInclusion(index, lh, hashes); err != nil {
			t.Fatalf("index %d size %d: the implied root is refused: %v", index, size, err)
		}
		if err := tlog.CheckRecord(tproof, int64(size), troot, int64(index), tleaf); err != nil {
			t.Fatalf("index %d size %d: tlog refuses what this package accepts: %v", index, size, err)
		}
		bad := bytes.Clone(root)
		bad[int(index%32)] ^= 1
		c.Root = bad
		if c.VerifyInclusion(index, lh, hashes) == nil {
			t.Fatalf("index %d size %d: a flipped root is accepted", index, size)
		}
	})
}

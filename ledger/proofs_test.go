package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/chemledger/chemledger/checkpoint"
)

// proofLogSize is the size of the log the conformance test checks every
// proof of.
const proofLogSize = 300

// proofLog is a ledger built one submission at a time, so that it signed a
// checkpoint at every size, together with two independent oracles of the
// same leaves.
type proofLog struct {
	l      *Ledger
	leaves [][]byte
	// roots[n] is the root of the signed checkpoint of size n.
	roots  [][]byte
	oracle *testonly.Tree
	// stored is the tlog stored-hash array of the leaves.
	stored tlogHashes
}

// tlogHashes is an in-memory tlog.HashReader.
type tlogHashes []tlog.Hash

func (h tlogHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(h)) {
			return nil, fmt.Errorf("stored hash %d of %d", x, len(h))
		}
		out[i] = h[x]
	}
	return out, nil
}

// buildProofLog submits leaves one at a time and reads back the signed root
// of every size.
func buildProofLog(tb testing.TB, leaves [][]byte) *proofLog {
	tb.Helper()
	l, _ := openTestLedger(tb, tb.TempDir())
	ctx := tb.Context()
	pl := &proofLog{l: l, leaves: leaves, oracle: testonly.New(rfc6962.DefaultHasher)}
	for i, leaf := range leaves {
		s := Submission{ID: fmt.Sprintf("proof-%d", i), Leaf: leaf, Member: "US-CBP", Kind: "EXPORT_DECLARATION"}
		r, err := l.Submit(ctx, s)
		if err != nil {
			tb.Fatalf("submit %d: %v", i, err)
		}
		if r.Index != uint64(i) || r.Checkpoint.Size != uint64(i+1) {
			tb.Fatalf("submit %d: index %d, checkpoint size %d; want %d, %d (one entry per commit)", i, r.Index, r.Checkpoint.Size, i, i+1)
		}
		pl.oracle.AppendData(leaf)
		hs, err := tlog.StoredHashes(int64(i), leaf, pl.stored)
		if err != nil {
			tb.Fatalf("tlog stored hashes of leaf %d: %v", i, err)
		}
		pl.stored = append(pl.stored, hs...)
	}
	pl.roots = make([][]byte, len(leaves)+1)
	for n := range pl.roots {
		signed, err := l.CheckpointAt(ctx, uint64(n))
		if err != nil {
			tb.Fatalf("CheckpointAt(%d): %v", n, err)
		}
		cp, err := checkpoint.Open(signed, l.Origin(), testVerifier)
		if err != nil {
			tb.Fatalf("open checkpoint %d: %v\n%s", n, err, signed)
		}
		if cp.Size != uint64(n) {
			tb.Fatalf("CheckpointAt(%d) is for size %d", n, cp.Size)
		}
		pl.roots[n] = cp.Root
	}
	return pl
}

// A verifier is one independent implementation of RFC 6962 proof checks.
type verifier struct {
	name        string
	inclusion   func(index, size uint64, leafHash []byte, hashes [][]byte, root []byte) error
	consistency func(size1, size2 uint64, hashes [][]byte, root1, root2 []byte) error
}

var verifiers = []verifier{
	{
		name: "transparency-dev/merkle",
		inclusion: func(index, size uint64, leafHash []byte, hashes [][]byte, root []byte) error {
			return proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash, hashes, root)
		},
		consistency: func(size1, size2 uint64, hashes [][]byte, root1, root2 []byte) error {
			return proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, hashes, root1, root2)
		},
	},
	{
		name: "x/mod/sumdb/tlog",
		inclusion: func(index, size uint64, leafHash []byte, hashes [][]byte, root []byte) error {
			p, err := toTlog(hashes)
			if err != nil {
				return err
			}
			lh, err := toTlogHash(leafHash)
			if err != nil {
				return err
			}
			th, err := toTlogHash(root)
			if err != nil {
				return err
			}
			return tlog.CheckRecord(tlog.RecordProof(p), int64(size), th, int64(index), lh)
		},
		consistency: func(size1, size2 uint64, hashes [][]byte, root1, root2 []byte) error {
			p, err := toTlog(hashes)
			if err != nil {
				return err
			}
			h1, err := toTlogHash(root1)
			if err != nil {
				return err
			}
			h2, err := toTlogHash(root2)
			if err != nil {
				return err
			}
			return tlog.CheckTree(tlog.TreeProof(p), int64(size2), h2, int64(size1), h1)
		},
	},
}

func toTlogHash(b []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("hash of %d bytes", len(b))
	}
	copy(h[:], b)
	return h, nil
}

func toTlog(hashes [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(hashes))
	for i, b := range hashes {
		h, err := toTlogHash(b)
		if err != nil {
			return nil, fmt.Errorf("proof hash %d: %w", i, err)
		}
		out[i] = h
	}
	return out, nil
}

// mutateSize reports whether the mutation checks run at tree size n: every
// size up to 64 and every 7th above.
func mutateSize(n uint64) bool { return n <= 64 || n%7 == 0 }

// extraHash is appended to proofs to lengthen them.
var extraHash = rfc6962.DefaultHasher.HashLeaf([]byte("extra"))

// flipBit returns a copy of hashes with one bit of hash j flipped.
func flipBit(hashes [][]byte, j int) [][]byte {
	out := clone(hashes)
	out[j] = bytes.Clone(out[j])
	out[j][(j*5)%len(out[j])] ^= 1 << (j % 8)
	return out
}

func clone(hashes [][]byte) [][]byte { return append([][]byte(nil), hashes...) }

// failures stops a test after too many failures to read.
type failures struct {
	tb testing.TB
	n  int
}

func (f *failures) errorf(format string, args ...any) {
	f.tb.Helper()
	f.tb.Errorf(format, args...)
	if f.n++; f.n >= 20 {
		f.tb.Fatal("too many failures")
	}
}

func TestProofConformance(t *testing.T) {
	started := time.Now()
	leaves := make([][]byte, proofLogSize)
	for i := range leaves {
		leaves[i] = sub(i).Leaf
	}
	pl := buildProofLog(t, leaves)
	t.Logf("built a log of %d entries, one commit each, in %v", proofLogSize, time.Since(started).Round(time.Millisecond))
	t.Cleanup(func() { t.Logf("proof conformance took %v", time.Since(started).Round(time.Millisecond)) })

	t.Run("roots", func(t *testing.T) {
		for n := uint64(0); n <= proofLogSize; n++ {
			if got, want := pl.roots[n], pl.oracle.HashAt(n); !bytes.Equal(got, want) {
				t.Errorf("root of size %d = %x, want %x (transparency-dev/merkle/testonly)", n, got, want)
			}
			if n == 0 {
				continue
			}
			th, err := tlog.TreeHash(int64(n), pl.stored)
			if err != nil {
				t.Fatalf("tlog.TreeHash(%d): %v", n, err)
			}
			if got := pl.roots[n]; !bytes.Equal(got, th[:]) {
				t.Errorf("root of size %d = %x, want %x (tlog.TreeHash)", n, got, th[:])
			}
		}
	})

	t.Run("inclusion", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		f := &failures{tb: t}
		valid, rejected := 0, 0
		proofs := make([][][]byte, proofLogSize)
		for n := uint64(1); n <= proofLogSize; n++ {
			root := pl.roots[n]
			for i := range n {
				size, hashes, err := pl.l.InclusionProof(ctx, i, n)
				if err != nil || size != n {
					t.Fatalf("InclusionProof(%d, %d) = size %d, err %v; want size %d, nil", i, n, size, err, n)
				}
				if want, _ := pl.oracle.InclusionProof(i, n); !equalHashes(hashes, want) {
					f.errorf("InclusionProof(%d, %d) = %x, want %x (testonly)", i, n, hashes, want)
				}
				proofs[i] = hashes
				leafHash := checkpoint.LeafHash(pl.leaves[i])
				for _, v := range verifiers {
					if err := v.inclusion(i, n, leafHash, hashes, root); err != nil {
						f.errorf("%s: inclusion of leaf %d in tree %d with proof %x: %v, want nil", v.name, i, n, hashes, err)
					}
					valid++
				}
			}
			if !mutateSize(n) {
				continue
			}
			for i := range n {
				for _, m := range inclusionMutations(pl, i, n, proofs) {
					for _, v := range verifiers {
						if err := v.inclusion(m.index, m.size, m.leafHash, m.hashes, m.root); err == nil {
							f.errorf("%s: leaf %d in tree %d, %s: index %d, size %d, proof %x verified, want rejection", v.name, i, n, m.name, m.index, m.size, m.hashes)
						}
						rejected++
					}
				}
			}
		}
		t.Logf("%d valid inclusion checks passed, %d mutated proofs rejected", valid, rejected)
	})

	t.Run("consistency", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		f := &failures{tb: t}
		valid, rejected := 0, 0
		proofs := make([][][]byte, proofLogSize+1)
		for n := uint64(1); n <= proofLogSize; n++ {
			for m := uint64(1); m <= n; m++ {
				size, hashes, err := pl.l.ConsistencyProof(ctx, m, n)
				if err != nil || size != n {
					t.Fatalf("ConsistencyProof(%d, %d) = size %d, err %v; want size %d, nil", m, n, size, err, n)
				}
				if want, _ := pl.oracle.ConsistencyProof(m, n); !equalHashes(hashes, want) {
					f.errorf("ConsistencyProof(%d, %d) = %x, want %x (testonly)", m, n, hashes, want)
				}
				proofs[m] = hashes
				for _, v := range verifiers {
					if err := v.consistency(m, n, hashes, pl.roots[m], pl.roots[n]); err != nil {
						f.errorf("%s: consistency of %d with %d with proof %x: %v, want nil", v.name, m, n, hashes, err)
					}
					valid++
				}
			}
			if !mutateSize(n) {
				continue
			}
			for m := uint64(1); m <= n; m++ {
				for _, mu := range consistencyMutations(pl, m, n, proofs) {
					for _, v := range verifiers {
						if err := v.consistency(mu.size1, mu.size2, mu.hashes, mu.root1, mu.root2); err == nil {
							f.errorf("%s: consistency %d→%d, %s: sizes %d→%d, proof %x verified, want rejection", v.name, m, n, mu.name, mu.size1, mu.size2, mu.hashes)
						}
						rejected++
					}
				}
			}
		}
		t.Logf("%d valid consistency checks passed, %d mutated proofs rejected", valid, rejected)
	})

	t.Run("out of range", func(t *testing.T) {
		ctx := t.Context()
		for _, tc := range []struct {
			name        string
			consistency bool
			a, b        uint64
			want        error
		}{
			{name: "inclusion in a tree beyond the latest size", a: 0, b: proofLogSize + 1, want: ErrTreeSize},
			{name: "inclusion of an index equal to the tree size", a: 5, b: 5, want: ErrTreeSize},
			{name: "inclusion of an index above the tree size", a: 9, b: 5, want: ErrTreeSize},
			{name: "inclusion of an index beyond the log", a: proofLogSize, b: 0, want: ErrNotFound},
			{name: "consistency to a tree beyond the latest size", consistency: true, a: 1, b: proofLogSize + 1, want: ErrTreeSize},
			{name: "consistency from size 0", consistency: true, a: 0, b: 5, want: ErrTreeSize},
			{name: "consistency from size 0 to the latest", consistency: true, a: 0, b: 0, want: ErrTreeSize},
			{name: "consistency from a larger tree", consistency: true, a: 6, b: 5, want: ErrTreeSize},
			{name: "consistency from beyond the latest size to the latest", consistency: true, a: proofLogSize + 1, b: 0, want: ErrTreeSize},
		} {
			t.Run(tc.name, func(t *testing.T) {
				call := "InclusionProof"
				get := pl.l.InclusionProof
				if tc.consistency {
					call, get = "ConsistencyProof", pl.l.ConsistencyProof
				}
				size, hashes, err := get(ctx, tc.a, tc.b)
				if !errors.Is(err, tc.want) || hashes != nil || size != 0 {
					t.Errorf("%s(%d, %d) = %d, %x, %v; want 0, nil, %v", call, tc.a, tc.b, size, hashes, err, tc.want)
				}
			})
		}
		if _, err := pl.l.CheckpointAt(ctx, proofLogSize+1); err == nil {
			t.Errorf("CheckpointAt(%d) = nil error for a size the log never signed", proofLogSize+1)
		}
	})
}

type inclusionMutation struct {
	name     string
	index    uint64
	size     uint64
	leafHash []byte
	hashes   [][]byte
	root     []byte
}

// inclusionMutations are the ways the proof of leaf i in tree n is changed,
// each of which a verifier must refuse. A proof presented for another tree
// size is checked against that size's signed root: the size a root belongs to
// is bound by the checkpoint signature, not by the proof.
func inclusionMutations(pl *proofLog, i, n uint64, proofs [][][]byte) []inclusionMutation {
	leafHash := checkpoint.LeafHash(pl.leaves[i])
	hashes, root := proofs[i], pl.roots[n]
	ms := []inclusionMutation{
		{name: "index+1", index: i + 1, size: n, leafHash: leafHash, hashes: hashes, root: root},
		{name: "extra hash", index: i, size: n, leafHash: leafHash, hashes: append(clone(hashes), extraHash), root: root},
		{name: "other leaf's hash", index: i, size: n, leafHash: checkpoint.LeafHash(pl.leaves[(i+1)%uint64(len(pl.leaves))]), hashes: hashes, root: root},
	}
	if i > 0 {
		ms = append(ms, inclusionMutation{name: "index-1", index: i - 1, size: n, leafHash: leafHash, hashes: hashes, root: root})
	}
	if n+1 < uint64(len(pl.roots)) {
		ms = append(ms, inclusionMutation{name: "size+1", index: i, size: n + 1, leafHash: leafHash, hashes: hashes, root: pl.roots[n+1]})
	}
	if n > 1 {
		ms = append(ms,
			inclusionMutation{name: "size-1", index: i, size: n - 1, leafHash: leafHash, hashes: hashes, root: pl.roots[n-1]},
			inclusionMutation{name: "proof of another leaf", index: i, size: n, leafHash: leafHash, hashes: proofs[(i+1)%n], root: root},
		)
	}
	if len(hashes) > 0 {
		ms = append(ms, inclusionMutation{name: "last hash removed", index: i, size: n, leafHash: leafHash, hashes: hashes[:len(hashes)-1], root: root})
	}
	for j := range hashes {
		ms = append(ms, inclusionMutation{name: fmt.Sprintf("bit flipped in hash %d", j), index: i, size: n, leafHash: leafHash, hashes: flipBit(hashes, j), root: root})
	}
	return ms
}

type consistencyMutation struct {
	name         string
	size1, size2 uint64
	hashes       [][]byte
	root1, root2 []byte
}

// consistencyMutations are the ways the proof of m → n is changed, each of
// which a verifier must refuse; proofs[k] is the proof of k → n.
func consistencyMutations(pl *proofLog, m, n uint64, proofs [][][]byte) []consistencyMutation {
	hashes, r1, r2 := proofs[m], pl.roots[m], pl.roots[n]
	ms := []consistencyMutation{
		{name: "extra hash", size1: m, size2: n, hashes: append(clone(hashes), extraHash), root1: r1, root2: r2},
	}
	if m+1 < uint64(len(pl.roots)) {
		ms = append(ms, consistencyMutation{name: "first size+1", size1: m + 1, size2: n, hashes: hashes, root1: pl.roots[m+1], root2: r2})
	}
	if m > 1 {
		ms = append(ms, consistencyMutation{name: "first size-1", size1: m - 1, size2: n, hashes: hashes, root1: pl.roots[m-1], root2: r2})
	}
	if n+1 < uint64(len(pl.roots)) {
		ms = append(ms, consistencyMutation{name: "second size+1", size1: m, size2: n + 1, hashes: hashes, root1: r1, root2: pl.roots[n+1]})
	}
	if n > 1 {
		ms = append(ms,
			consistencyMutation{name: "second size-1", size1: m, size2: n - 1, hashes: hashes, root1: r1, root2: pl.roots[n-1]},
			consistencyMutation{name: "proof from another size", size1: m, size2: n, hashes: proofs[m%n+1], root1: r1, root2: r2},
		)
	}
	if len(hashes) > 0 {
		ms = append(ms, consistencyMutation{name: "last hash removed", size1: m, size2: n, hashes: hashes[:len(hashes)-1], root1: r1, root2: r2})
	}
	for j := range hashes {
		ms = append(ms, consistencyMutation{name: fmt.Sprintf("bit flipped in hash %d", j), size1: m, size2: n, hashes: flipBit(hashes, j), root1: r1, root2: r2})
	}
	return ms
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestRFC6962GoldenRoots checks the ledger's roots against the published
// RFC 6962 test vectors (the 8-leaf tree of certificate-transparency-go,
// carried by transparency-dev/merkle/testonly).
func TestRFC6962GoldenRoots(t *testing.T) {
	leaves, want := testonly.LeafInputs(), testonly.RootHashes()
	pl := buildProofLog(t, leaves)
	for n := range want {
		if got := pl.roots[n]; !bytes.Equal(got, want[n]) {
			t.Errorf("root of the first %d leaves %x = %x, want %x", n, leaves[:n], got, want[n])
		}
	}
}

package server_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/pki"
	"github.com/chemledger/chemledger/server/servertest"
)

// tileFetcher is a tlog.TileReader over the service's /tlog paths, as a
// member's verifier would read them: an implementation we did not write
// (golang.org/x/mod/sumdb/tlog) asks for tiles by its own tile names, and
// this turns each into the C2SP tlog-tiles path.
type tileFetcher struct {
	t            *testing.T
	s            *secured
	member, role string
	fetched      int
}

func (f *tileFetcher) Height() int { return 8 }

func (f *tileFetcher) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		code, _, body := f.s.do(f.t, f.member, f.role, "GET", "/tlog/"+c2spPath(t), nil)
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", c2spPath(t), code, body)
		}
		out[i] = body
		f.fetched++
	}
	return out, nil
}

func (f *tileFetcher) SaveTiles([]tlog.Tile, [][]byte) {}

// c2spPath is t's tlog-tiles path: sumdb's tile path without the height.
func c2spPath(t tlog.Tile) string {
	return strings.Replace(t.Path(), "tile/8/", "tile/", 1)
}

// TestTilesReadByStandardVerifier serves a log of 600 entries (two full
// level-0 tiles, a partial one, a partial level-1 tile) and has sumdb/tlog's
// TileHashReader prove random entries' inclusion against the signed
// checkpoint from /tlog/checkpoint; every entry of the bundles hashes to its
// leaf in the level-0 tiles.
func TestTilesReadByStandardVerifier(t *testing.T) {
	const n = 600
	s := startSecured(t, t.TempDir(), servertest.Options{Audit: true})
	imp := usImport(t, s.in)
	var items []bulkItem
	for i := range n {
		items = append(items, importNamed(t, s.in, imp, fmt.Sprintf("UCR-TILE-%04d", i)))
	}
	checkBulk(t, items, runBulk(t, s.ledger(t, "US-CBP", pki.RoleSubmitter), items), 0)

	code, h, body := s.do(t, "MX-ANAM", pki.RoleAuditor, "GET", "/tlog/checkpoint", nil)
	if code != http.StatusOK || h.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /tlog/checkpoint: %d %q %s", code, h.Get("Cache-Control"), body)
	}
	v, err := note.NewVerifier(s.in.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Open(body, s.in.Ledger.Origin(), v)
	if err != nil || cp.Size != n {
		t.Fatalf("checkpoint: %+v, %v; want size %d", cp, err, n)
	}
	var root tlog.Hash
	copy(root[:], cp.Root)
	tree := tlog.Tree{N: int64(cp.Size), Hash: root}

	// An auditor reads hash tiles: it proves inclusion without content.
	f := &tileFetcher{t: t, s: s, member: "MX-ANAM", role: pki.RoleAuditor}
	hr := tlog.TileHashReader(tree, f)
	leaves := levelZero(t, s, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, i := range append([]int{0, 255, 256, 511, 512, n - 1}, rng.Perm(n)[:40]...) {
		p, err := tlog.ProveRecord(tree.N, int64(i), hr)
		if err != nil {
			t.Fatalf("ProveRecord(%d): %v", i, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, int64(i), leaves[i]); err != nil {
			t.Fatalf("CheckRecord(%d): %v", i, err)
		}
	}
	if f.fetched == 0 {
		t.Fatal("the verifier read no tiles")
	}

	// Entry bundles: an analyst's; each entry hashes to its leaf.
	for b := range (n + 255) / 256 {
		width := min(n-b*256, 256)
		path := fmt.Sprintf("/tlog/tile/entries/%03d", b)
		if width < 256 {
			path += fmt.Sprintf(".p/%d", width)
		}
		code, h, body := s.do(t, "MX-ANAM", pki.RoleAnalyst, "GET", path, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		wantCache := "no-cache"
		if width == 256 {
			wantCache = "public, max-age=31536000, immutable"
		}
		if got := h.Get("Cache-Control"); got != wantCache {
			t.Errorf("GET %s: Cache-Control %q, want %q", path, got, wantCache)
		}
		for i := 0; len(body) > 0; i++ {
			l := int(binary.BigEndian.Uint16(body))
			entry := body[2 : 2+l]
			body = body[2+l:]
			if got := tlog.RecordHash(entry); got != leaves[b*256+i] {
				t.Fatalf("bundle %d entry %d hashes to %x, the tile says %x", b, i, got, leaves[b*256+i])
			}
			if i == width-1 && len(body) != 0 {
				t.Fatalf("bundle %d has data after its %d entries", b, width)
			}
		}
	}

	for _, tt := range []struct {
		name, member, role, path string
		code                     int
	}{
		{"an auditor may not read entry bundles", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/entries/000", http.StatusForbidden},
		{"a submitter may not read entry bundles", "US-CBP", pki.RoleSubmitter, "/tlog/tile/entries/000", http.StatusForbidden},
		{"a submitter reads hash tiles", "US-CBP", pki.RoleSubmitter, "/tlog/tile/0/000", http.StatusOK},
		{"a tile the tree does not have yet", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/003", http.StatusNotFound},
		{"a full tile of a partial one", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/002", http.StatusNotFound},
		{"wider than the tree", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/002.p/89", http.StatusNotFound},
		{"a prefix of a partial tile", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/002.p/10", http.StatusOK},
		{"an index not in three digits", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/2", http.StatusBadRequest},
		{"a needless group", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/x000/002", http.StatusBadRequest},
		{"width 256", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/000.p/256", http.StatusBadRequest},
		{"width with a leading zero", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/0/002.p/010", http.StatusBadRequest},
		{"level 8", "MX-ANAM", pki.RoleAuditor, "/tlog/tile/8/000", http.StatusBadRequest},
		{"no such path", "MX-ANAM", pki.RoleAuditor, "/tlog/tiles/0/000", http.StatusNotFound},
	} {
		if code, _, body := s.do(t, tt.member, tt.role, "GET", tt.path, nil); code != tt.code {
			t.Errorf("%s: GET %s as %s/%s: %d %s, want %d", tt.name, tt.path, tt.member, tt.role, code, body, tt.code)
		}
	}
}

// levelZero reads the leaf hashes from the level-0 tiles.
func levelZero(t *testing.T, s *secured, n int) []tlog.Hash {
	t.Helper()
	var out []tlog.Hash
	for b := 0; b*256 < n; b++ {
		path := fmt.Sprintf("/tlog/tile/0/%03d", b)
		if w := min(n-b*256, 256); w < 256 {
			path += fmt.Sprintf(".p/%d", w)
		}
		code, _, body := s.do(t, "MX-ANAM", pki.RoleAuditor, "GET", path, nil)
		if code != http.StatusOK || len(body)%32 != 0 {
			t.Fatalf("GET %s: %d, %d bytes", path, code, len(body))
		}
		for i := 0; i < len(body); i += 32 {
			var h tlog.Hash
			copy(h[:], body[i:i+32])
			out = append(out, h)
		}
	}
	return out
}

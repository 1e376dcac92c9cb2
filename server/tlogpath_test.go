package server

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestTilePathsAsSumdbWritesThem: every tile path sumdb/tlog writes (less
// its height) parses to the same tile, and only that spelling does.
func TestTilePathsAsSumdbWritesThem(t *testing.T) {
	for _, n := range []int64{0, 5, 255, 999, 1000, 1001, 1234067, 1 << 40} {
		for _, w := range []int{256, 1, 255} {
			for _, l := range []int{-1, 0, 3} {
				tile := tlog.Tile{H: 8, L: l, N: n, W: w}
				p := strings.TrimPrefix(tile.Path(), "tile/8/")
				if l < 0 {
					p = "entries/" + strings.TrimPrefix(tile.Path(), "tile/8/data/")
				}
				got, err := parseTilePath(p)
				if err != nil {
					t.Fatalf("parseTilePath(%q): %v", p, err)
				}
				want := tilePath{level: l, index: uint64(n)}
				if w < 256 {
					want.width = uint32(w)
				}
				if got != want {
					t.Fatalf("parseTilePath(%q) = %+v, want %+v", p, got, want)
				}
			}
		}
	}
	for _, bad := range []string{"0/1", "0/0001", "0/x000/001", "0/x1/001", "0/001.p/0", "0/001.p/", "0/001.p", "0/.p/3", "entries", "-1/000", "0/001/", "0//001", "64/000"} {
		if got, err := parseTilePath(bad); err == nil {
			t.Errorf("parseTilePath(%q) = %+v, want an error", bad, got)
		}
	}
}

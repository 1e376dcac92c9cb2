package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// The C2SP tlog-tiles read API, under tlogPrefix on the HTTPS listener:
//
//	/tlog/checkpoint                   the latest signed checkpoint note
//	/tlog/tile/<L>/<N>[.p/<W>]         hash tiles, from the stored nodes
//	/tlog/tile/entries/<N>[.p/<W>]     entry bundles
//
// Each is served through the gRPC client of the gateway (GetCheckpoint,
// GetTile, GetEntryBundle), so the interceptors authorise and audit a tile
// read like any other: hash tiles for every role, entry bundles only for
// the roles that may read every entry.
const tlogPrefix = "/tlog/"

// GetTile serves a hash tile.
func (s *ledgerService) GetTile(ctx context.Context, req *chemledgerv1.GetTileRequest) (*chemledgerv1.TileData, error) {
	var v badinput.List
	if req.GetLevel() > ledger.MaxTileLevel {
		v.Add("level", "%d is above the highest tile level of a 64-bit tree, %d", req.GetLevel(), ledger.MaxTileLevel)
	}
	if req.GetWidth() >= ledger.TileWidth {
		v.Add("width", "%d: a partial tile is 1 to %d wide (0 for a full tile)", req.GetWidth(), ledger.TileWidth-1)
	}
	if err := v.Err(); err != nil {
		return nil, toStatus(s.log, err)
	}
	data, err := s.ledger.HashTile(ctx, uint(req.GetLevel()), req.GetIndex(), int(req.GetWidth()))
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	return &chemledgerv1.TileData{Data: data, Full: req.GetWidth() == 0}, nil
}

// GetEntryBundle serves an entry bundle.
func (s *ledgerService) GetEntryBundle(ctx context.Context, req *chemledgerv1.GetEntryBundleRequest) (*chemledgerv1.TileData, error) {
	if req.GetWidth() >= ledger.TileWidth {
		return nil, toStatus(s.log, badinput.New("width", "%d: a partial bundle is 1 to %d wide (0 for a full bundle)", req.GetWidth(), ledger.TileWidth-1))
	}
	data, err := s.ledger.EntryBundle(ctx, req.GetIndex(), int(req.GetWidth()))
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	return &chemledgerv1.TileData{Data: data, Full: req.GetWidth() == 0}, nil
}

// tilePath is a parsed tile path: a hash tile (level >= 0) or an entry
// bundle (level -1), its index and its width (0: full).
type tilePath struct {
	level int
	index uint64
	width uint32
}

// parseTilePath reads "<L>/<N>[.p/<W>]" or "entries/<N>[.p/<W>]", strictly:
// the index in tlog-tiles' 3-digit groups ("x001/x234/067"), each prefixed
// with "x" but the last, and the path must be the one canonical spelling of
// the tile, so that one tile is never cached under two names.
func parseTilePath(p string) (tilePath, error) {
	var t tilePath
	head, rest, ok := strings.Cut(p, "/")
	if !ok {
		return t, fmt.Errorf("want <level>/<index> or entries/<index>")
	}
	if head == "entries" {
		t.level = -1
	} else {
		l, err := strconv.ParseUint(head, 10, 8)
		if err != nil || strconv.FormatUint(l, 10) != head || l > ledger.MaxTileLevel {
			return t, fmt.Errorf("level %q: want 0 to %d", head, ledger.MaxTileLevel)
		}
		t.level = int(l)
	}
	segs := strings.Split(rest, "/")
	last := len(segs) - 1
	if i := strings.Index(segs[last], ".p"); i >= 0 {
		return t, fmt.Errorf("partial width in the wrong place: want <index>.p/<width>")
	}
	if last >= 1 && strings.HasSuffix(segs[last-1], ".p") {
		w, err := strconv.ParseUint(segs[last], 10, 8)
		if err != nil || strconv.FormatUint(w, 10) != segs[last] || w == 0 || w >= ledger.TileWidth {
			return t, fmt.Errorf("partial width %q: want 1 to %d", segs[last], ledger.TileWidth-1)
		}
		t.width = uint32(w)
		segs[last-1] = strings.TrimSuffix(segs[last-1], ".p")
		segs = segs[:last]
	}
	for i, g := range segs {
		if i < len(segs)-1 {
			if !strings.HasPrefix(g, "x") {
				return t, fmt.Errorf("index group %q: all but the last group start with x", g)
			}
			g = g[1:]
		}
		if len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return t, fmt.Errorf("index group %q: want three digits", g)
		}
		d, _ := strconv.ParseUint(g, 10, 16)
		if t.index > (1<<63)/1000 {
			return t, fmt.Errorf("index too large")
		}
		t.index = t.index*1000 + d
	}
	if tileIndexPath(t.index) != strings.Join(segs, "/") {
		return t, fmt.Errorf("index %q is not written the canonical way (%s)", strings.Join(segs, "/"), tileIndexPath(t.index))
	}
	return t, nil
}

// tileIndexPath writes n the tlog-tiles way: 1234067 is "x001/x234/067".
func tileIndexPath(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// tlogHandler serves the tlog-tiles paths through client, the gateway's
// connection to the gRPC side; errors are written as the gateway writes
// them.
func (s *Server) tlogHandler(client chemledgerv1.LedgerServiceClient, fail func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if c, ok := ctx.Value(httpCallerKey{}).(*httpCaller); ok && c.forward != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, callerHeader, c.forward)
		}
		rest := strings.TrimPrefix(r.URL.Path, tlogPrefix)
		if rest == "checkpoint" {
			cp, err := client.GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
			if err != nil {
				fail(w, r, err)
				return
			}
			// A checkpoint changes with every commit: clients must ask again.
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(cp.GetNote()))
			return
		}
		tile, ok := strings.CutPrefix(rest, "tile/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		t, err := parseTilePath(tile)
		if err != nil {
			fail(w, r, badinput.New("path", "%s: %v", r.URL.Path, err))
			return
		}
		var data *chemledgerv1.TileData
		if t.level < 0 {
			data, err = client.GetEntryBundle(ctx, &chemledgerv1.GetEntryBundleRequest{Index: t.index, Width: t.width})
		} else {
			data, err = client.GetTile(ctx, &chemledgerv1.GetTileRequest{Level: uint32(t.level), Index: t.index, Width: t.width})
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		if data.GetFull() {
			// A full tile never changes: any cache may keep it for good.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data.GetData())
	})
}

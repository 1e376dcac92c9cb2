// Package mirror follows a chemledger log through its tlog-tiles read API
// and keeps a verified copy in a ledger of its own (ledger.Config.Mirror),
// so that a member need not trust the operator of the primary: every
// checkpoint is checked for the log's signature, the witness quorum and
// consistency with the one before; every entry for its place in the tree
// (its leaf hash against the hash tiles, which are authenticated against
// the checkpoint's root) and for its DSSE signature against the member
// registry as the log defines it at that index. What verifies goes into the
// mirror's store through the ledger's one append path; the ledger itself
// checks the tree it built against the upstream checkpoint before storing
// it.
//
// When the upstream shows a checkpoint that is inconsistent with what the
// mirror holds, unsigned, or without quorum, or an entry that is not what
// the tree says, the mirror stops following for good, writes both signed
// checkpoints and the reason into its evidence directory, and halts its
// ledger, so its health says why.
//
// It must not import the server: cmd wires the admitter (who signed an
// entry, and its list fields) and the HTTP client (a member's analyst
// certificate) in.
package mirror

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/witness"
)

// Config configures a Follower.
type Config struct {
	// Upstream is the base URL of the primary's HTTPS listener (its
	// /tlog paths are under it).
	Upstream string
	// Client fetches from the upstream (mutual TLS with an analyst's
	// certificate: entry bundles are for the roles that read every entry).
	Client *http.Client
	// Policy is the witness quorum every checkpoint needs.
	Policy *witness.Policy
	// Admit checks the signatures of consecutive entries from index first
	// against the registry at each one's index and describes them
	// (server.MirrorAdmitter).
	Admit func(first uint64, leaves [][]byte) ([]ledger.Submission, error)
	// EvidenceDir receives the signed checkpoints that made the mirror halt.
	EvidenceDir string
	// Poll is how often the upstream's checkpoint is fetched.
	Poll time.Duration
	// InFlight bounds the entries handed to the ledger and not yet
	// committed.
	InFlight int
	Logger   *slog.Logger
}

// Defaults of Config.
const (
	// DefaultPoll matches the primary's witnessing cadence order of
	// magnitude: a mirror a second behind is current enough to watch.
	DefaultPoll     = time.Second
	DefaultInFlight = 8192
)

// HaltError is why a mirror stopped following: the upstream showed
// something a correct log never shows. Evidence names the files kept.
type HaltError struct {
	Reason   string
	Evidence []string
}

func (e *HaltError) Error() string {
	s := "mirror halted: " + e.Reason
	if len(e.Evidence) > 0 {
		s += " (evidence: " + strings.Join(e.Evidence, ", ") + ")"
	}
	return s
}

// Follower copies the upstream into a mirror ledger.
type Follower struct {
	l     *ledger.Ledger
	cfg   Config
	tiles *tileReader
}

// New returns a follower filling l, which must be a mirror ledger whose
// verifier is the upstream's log key.
func New(l *ledger.Ledger, cfg Config) (*Follower, error) {
	if cfg.Policy == nil || cfg.Admit == nil || cfg.Upstream == "" {
		return nil, errors.New("mirror: an upstream, a witness policy and an admitter are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = DefaultInFlight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Upstream = strings.TrimSuffix(cfg.Upstream, "/")
	f := &Follower{l: l, cfg: cfg}
	f.tiles = &tileReader{f: f, cache: map[tlog.Tile][]byte{}}
	return f, nil
}

// Run follows the upstream until ctx ends or the mirror halts; it returns
// the *HaltError then. Errors of the moment (the upstream unreachable, a
// disk full) are logged and retried.
func (f *Follower) Run(ctx context.Context) error {
	// Entries already stored past the last checkpoint (a range cut short
	// by a restart) were admitted once; their member changes must be
	// applied again before what follows them is checked.
	replayed := false
	for {
		err := f.sync(ctx, !replayed)
		var halt *HaltError
		switch {
		case errors.As(err, &halt):
			f.l.Halt(halt)
			f.cfg.Logger.Error("mirror halted", "reason", halt.Reason, "evidence", halt.Evidence)
			return halt
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			f.cfg.Logger.Warn("mirror could not follow the upstream; retrying", "err", err)
		default:
			replayed = true
		}
		select {
		case <-time.After(f.cfg.Poll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sync brings the mirror up to the upstream's latest checkpoint once.
func (f *Follower) Sync(ctx context.Context) error { return f.sync(ctx, true) }

func (f *Follower) sync(ctx context.Context, replayTail bool) error {
	upNote, err := f.get(ctx, "/tlog/checkpoint")
	if err != nil {
		return err
	}
	local, localNote := f.l.Checkpoint()
	up, err := checkpoint.Open(upNote, f.l.Origin(), f.l.Verifier())
	if err != nil {
		return f.halt(fmt.Sprintf("the upstream's checkpoint does not verify with the log's key: %v", err), localNote, upNote)
	}
	if err := f.cfg.Policy.Check(upNote); err != nil {
		return f.halt(fmt.Sprintf("the upstream's checkpoint of size %d is not witnessed: %v", up.Size, err), localNote, upNote)
	}
	switch {
	case up.Size < local.Size:
		return f.halt(fmt.Sprintf("the upstream's checkpoint is of size %d, smaller than the %d the mirror holds: the log was rolled back", up.Size, local.Size), localNote, upNote)
	case up.Size == local.Size && !bytes.Equal(up.Root, local.Root):
		return f.halt(fmt.Sprintf("the upstream and the mirror both have %d entries but different roots (%x, %x): a split view", up.Size, up.Root, local.Root), localNote, upNote)
	case up.Size == local.Size && !replayTail:
		return nil
	}
	hr := tlog.TileHashReader(tlog.Tree{N: int64(up.Size), Hash: tlog.Hash(up.Root)}, f.tiles)
	if local.Size > 0 {
		h, err := tlog.TreeHash(int64(local.Size), hr)
		if err != nil {
			return f.halt(fmt.Sprintf("the upstream's tiles do not prove its checkpoint of size %d: %v", up.Size, err), localNote, upNote)
		}
		if !bytes.Equal(h[:], local.Root) {
			return f.halt(fmt.Sprintf("the upstream's checkpoint of size %d is not consistent with the mirror's of size %d: its first %d entries hash to %x, the mirror's to %x",
				up.Size, local.Size, local.Size, h[:], local.Root), localNote, upNote)
		}
	}
	return f.copy(ctx, hr, local, localNote, up, upNote, replayTail)
}

// copy fetches, checks and appends entries local.Size to up.Size (those
// already stored are checked and replayed through the admitter only).
func (f *Follower) copy(ctx context.Context, hr tlog.HashReader, local checkpoint.Checkpoint, localNote []byte, up checkpoint.Checkpoint, upNote []byte, replayTail bool) error {
	stored := f.l.Size()
	start := stored
	if replayTail {
		start = local.Size
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	pending := make(chan (<-chan ledger.Outcome), f.cfg.InFlight)
	wg.Go(func() {
		for ch := range pending {
			if o := <-ch; o.Err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = o.Err
				}
				mu.Unlock()
			}
		}
	})
	finish := func(err error) error {
		close(pending)
		wg.Wait()
		if err != nil {
			return err
		}
		if errors.Is(firstErr, ledger.ErrUpstream) {
			return f.halt(firstErr.Error(), localNote, upNote)
		}
		return firstErr
	}
	// Fetching and hash-checking bundles runs ahead of the signature checks
	// and the appends, so the network, the checks and the disk overlap.
	type fetched struct {
		first uint64
		run   [][]byte
		err   error
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bundles := make(chan fetched, 8)
	go func() {
		defer close(bundles)
		for i := start; i < up.Size; {
			run, next, err := f.fetchRun(fctx, hr, i, up, localNote, upNote)
			select {
			case bundles <- fetched{i, run, err}:
			case <-fctx.Done():
				return
			}
			if err != nil {
				return
			}
			i = next
		}
	}()
	for b := range bundles {
		if b.err != nil {
			return finish(b.err)
		}
		subs, err := f.cfg.Admit(b.first, b.run)
		if err != nil {
			return finish(f.halt(err.Error(), localNote, upNote))
		}
		for k, sub := range subs {
			j := b.first + uint64(k)
			if j < stored {
				continue // stored before a restart; the commit of the range checks it
			}
			sub.ID = fmt.Sprintf("upstream-%d", j)
			sub.Upstream = &ledger.Upstream{Index: j, CoveredBy: up.Size}
			if j == up.Size-1 {
				sub.Upstream.Checkpoint = upNote
			}
			ch, err := f.l.Enqueue(ctx, sub, false)
			if err != nil {
				return finish(err)
			}
			select {
			case pending <- ch:
			case <-ctx.Done():
				return finish(ctx.Err())
			}
		}
	}
	return finish(nil)
}

// fetchRun fetches the entry bundle holding entry i, checks every entry
// from i to the bundle's end (or the tree's) against the leaf hashes of the
// authenticated hash tiles, and returns them and the next index.
func (f *Follower) fetchRun(ctx context.Context, hr tlog.HashReader, i uint64, up checkpoint.Checkpoint, localNote, upNote []byte) ([][]byte, uint64, error) {
	bundle := i / ledger.TileWidth
	end := min((bundle+1)*ledger.TileWidth, up.Size)
	width := int(end - bundle*ledger.TileWidth)
	data, err := f.get(ctx, "/tlog/"+bundlePath(bundle, width))
	if err != nil {
		return nil, 0, err
	}
	leaves, err := parseBundle(data, width)
	if err != nil {
		return nil, 0, f.halt(fmt.Sprintf("entry bundle %d (width %d) of the upstream's tree of size %d: %v", bundle, width, up.Size, err), localNote, upNote)
	}
	idx := make([]int64, 0, end-i)
	for j := i; j < end; j++ {
		idx = append(idx, tlog.StoredHashIndex(0, int64(j)))
	}
	hashes, err := hr.ReadHashes(idx)
	if err != nil {
		return nil, 0, f.halt(fmt.Sprintf("the upstream's hash tiles for entries %d to %d do not prove its checkpoint of size %d: %v", i, end-1, up.Size, err), localNote, upNote)
	}
	run := leaves[i-bundle*ledger.TileWidth:]
	for k, leaf := range run {
		if got := tlog.RecordHash(leaf); got != hashes[k] {
			return nil, 0, f.halt(fmt.Sprintf("entry %d in entry bundle %d hashes to %x, but the upstream's tree of size %d (root %x) holds leaf hash %x there: the bundle was altered",
				i+uint64(k), bundle, got[:], up.Size, up.Root, hashes[k][:]), localNote, upNote)
		}
	}
	f.tiles.forget(bundle)
	return run, end, nil
}

// halt keeps the evidence and returns the HaltError.
func (f *Follower) halt(reason string, localNote, upNote []byte) error {
	h := &HaltError{Reason: reason}
	if f.cfg.EvidenceDir == "" {
		return h
	}
	if err := os.MkdirAll(f.cfg.EvidenceDir, 0o755); err != nil {
		f.cfg.Logger.Error("cannot keep the evidence", "err", err)
		return h
	}
	stamp := time.Now().UTC().Format("20060102T150405.000Z")
	for _, e := range []struct {
		name string
		data []byte
	}{
		{"mirror.checkpoint", localNote},
		{"upstream.checkpoint", upNote},
		{"reason.txt", []byte(reason + "\n")},
	} {
		p := filepath.Join(f.cfg.EvidenceDir, stamp+"-"+e.name)
		if err := os.WriteFile(p, e.data, 0o644); err != nil {
			f.cfg.Logger.Error("cannot keep the evidence", "file", p, "err", err)
			continue
		}
		h.Evidence = append(h.Evidence, p)
	}
	return h
}

// get fetches a path of the upstream.
func (f *Follower) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.Upstream+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("upstream %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// bundlePath is the tlog-tiles path of entry bundle n of width w.
func bundlePath(n uint64, w int) string {
	p := strings.Replace(tlog.Tile{H: ledger.TileHeight, L: -1, N: int64(n), W: w}.Path(), "tile/8/data/", "tile/entries/", 1)
	return p
}

// parseBundle splits an entry bundle into its width entries.
func parseBundle(b []byte, width int) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("truncated length prefix")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("entry %d is cut short", len(out))
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	if len(out) != width {
		return nil, fmt.Errorf("holds %d entries, want %d", len(out), width)
	}
	return out, nil
}

// tileReader fetches hash tiles for tlog.TileHashReader, which checks them
// against the checkpoint's root before using them; verified full tiles are
// kept (they never change), and the level-0 ones dropped once copied.
type tileReader struct {
	f     *Follower
	mu    sync.Mutex
	cache map[tlog.Tile][]byte
}

func (r *tileReader) Height() int { return ledger.TileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		r.mu.Lock()
		d, ok := r.cache[t]
		r.mu.Unlock()
		if ok {
			out[i] = d
			continue
		}
		d, err := r.f.get(context.Background(), "/tlog/"+strings.Replace(t.Path(), "tile/8/", "tile/", 1))
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, t := range tiles {
		if t.W == ledger.TileWidth {
			r.cache[t] = data[i]
		}
	}
}

// forget drops the level-0 tile of a copied bundle.
func (r *tileReader) forget(bundle uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cache, tlog.Tile{H: ledger.TileHeight, L: 0, N: int64(bundle), W: ledger.TileWidth})
}

// Package cosign feeds the log's checkpoints to its witnesses with C2SP
// tlog-witness add-checkpoint, collects their tlog-cosignature/v1
// cosignatures and keeps the cosigned checkpoint the service serves.
//
// It sits beside the ledger, never on its write path: a commit publishes a
// checkpoint signed by the log alone and answers its submitters at once;
// the feeder picks the latest published checkpoint up on its own cadence.
// A slow, down or hostile witness delays only the cosigned checkpoint.
//
// It must not decide what the log contains, and it must not import the
// server: it reads checkpoints and proofs through Log and speaks HTTP to
// witnesses.
package cosign

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/witness"
)

// Log is what the feeder reads from the ledger (*ledger.Ledger has it).
type Log interface {
	Checkpoint() (checkpoint.Checkpoint, []byte)
	WaitBeyond(ctx context.Context, size uint64) (uint64, error)
	ConsistencyProof(ctx context.Context, first, second uint64) (uint64, [][]byte, error)
}

// Config configures a Feeder.
type Config struct {
	// Policy names the witnesses (each with a URL) and the quorum.
	Policy *witness.Policy
	// Client sends the requests; nil is a client with Timeout.
	Client *http.Client
	// Interval is the least time between the starts of two rounds.
	Interval time.Duration
	// Timeout bounds one request to one witness.
	Timeout time.Duration
	// Retry is how often a round is repeated for the same checkpoint while
	// some witness has not cosigned it.
	Retry time.Duration
	// Logger receives the feeder's logs.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	// DefaultInterval is the witnessing cadence: at most four witnessed
	// checkpoints a second. Each round costs every witness one fsync'd
	// write and one signature whatever the number of entries it covers, so
	// a witness's load does not grow with the log's write rate; and an
	// entry waits at most one interval plus one round trip for a
	// checkpoint with quorum, well inside the one second a member's client
	// waits for a witnessed receipt. Tessera's default of ten seconds
	// suits public logs with slow, distant witnesses; ours are a coalition's
	// few, and members want the evidence while the shipment is current.
	DefaultInterval = 250 * time.Millisecond
	// DefaultTimeout bounds one add-checkpoint: a witness slower than this
	// is treated as down for the round.
	DefaultTimeout = 5 * time.Second
	// DefaultRetry repeats a round for an unchanged checkpoint so a witness
	// back from an outage cosigns it without waiting for the next write.
	DefaultRetry = time.Second
	// Backoff after a witness fails: doubling from minBackoff to maxBackoff.
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
	// maxConflicts bounds the 409 restarts of one add-checkpoint.
	maxConflicts = 3
)

// DefaultConfig returns the defaults for policy.
func DefaultConfig(p *witness.Policy) Config {
	return Config{Policy: p, Interval: DefaultInterval, Timeout: DefaultTimeout, Retry: DefaultRetry, Logger: slog.Default()}
}

// RollbackError is the refusal to serve: a witness has cosigned a larger
// tree of this log than the one on disk, so the disk was rolled back (or
// another copy of the log key signed a fork).
type RollbackError struct {
	Witness     string
	WitnessSize uint64
	LocalSize   uint64
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("witness %s has cosigned a tree of %d entries of this log, but the local log holds %d: the data directory was rolled back or replaced; restore it (chemledgerd restore) before serving",
		e.Witness, e.WitnessSize, e.LocalSize)
}

// StatusError is a witness's refusal other than a size conflict.
type StatusError struct {
	Witness string
	Code    int
	Body    string
}

func (e *StatusError) Error() string {
	what := ""
	switch e.Code {
	case http.StatusNotFound:
		what = " (the witness does not know this log)"
	case http.StatusForbidden:
		what = " (the witness does not accept the log's signature)"
	case http.StatusBadRequest:
		what = " (the witness could not read the request)"
	case http.StatusUnprocessableEntity:
		what = " (the witness's tree and this one are not consistent: a fork)"
	}
	return fmt.Sprintf("witness %s answered %d%s: %s", e.Witness, e.Code, what, strings.TrimSpace(e.Body))
}

// witnessState is what the feeder believes of one witness.
type witnessState struct {
	size     uint64 // the size it last cosigned, as far as we know
	known    bool   // size was learnt from the witness
	cosigned uint64 // size of the checkpoint it cosigned in the last round (0: none)
	fails    int
	retryAt  time.Time
	lastErr  error
}

// Feeder witnesses the log's checkpoints.
type Feeder struct {
	log    Log
	cfg    Config
	client *http.Client

	mu     sync.Mutex
	states []witnessState
	served checkpoint.Checkpoint
	note   []byte
	cosigs map[int][]byte // the served checkpoint's cosignature lines, by witness
	// changed is closed and replaced when a new note is served, so tests and
	// benchmarks can wait for it.
	changed chan struct{}
}

// New returns a feeder of log's checkpoints to the policy's witnesses.
func New(log Log, cfg Config) (*Feeder, error) {
	if cfg.Policy == nil {
		return nil, errors.New("cosign: no witness policy")
	}
	for _, w := range cfg.Policy.Witnesses {
		if w.URL == "" {
			return nil, fmt.Errorf("cosign: witness %s has no URL in the policy: the log must know where to send checkpoints", w.Name)
		}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{Timeout: cfg.Timeout}
	}
	f := &Feeder{log: log, cfg: cfg, client: c, states: make([]witnessState, len(cfg.Policy.Witnesses)), changed: make(chan struct{})}
	f.served, f.note = log.Checkpoint()
	return f, nil
}

// Checkpoint is the checkpoint to serve: the newest one witnessed, with the
// log's signature and every cosignature collected for it (enough for the
// quorum or not: a client with the policy decides). Before the first round
// it is the log's own latest.
func (f *Feeder) Checkpoint() (checkpoint.Checkpoint, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served, f.note
}

// WaitServed blocks until the served checkpoint covers size entries and
// satisfies the quorum, or ctx ends.
func (f *Feeder) WaitServed(ctx context.Context, size uint64) (checkpoint.Checkpoint, []byte, error) {
	for {
		f.mu.Lock()
		cp, n, ch := f.served, f.note, f.changed
		f.mu.Unlock()
		if cp.Size >= size && f.cfg.Policy.Check(n) == nil {
			return cp, n, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return cp, n, ctx.Err()
		}
	}
}

// CheckRollback asks every witness what it last cosigned for this log (an
// add-checkpoint from size 0, which a witness that knows the log answers
// with 409 and its size) and returns a *RollbackError when one has cosigned
// more than the local log holds. A witness that cannot be reached cannot
// testify either way; it is logged, and the check rests on the others.
func (f *Feeder) CheckRollback(ctx context.Context) error {
	cp, n := f.log.Checkpoint()
	errs := make([]error, len(f.states))
	var wg sync.WaitGroup
	for i := range f.states {
		wg.Go(func() {
			size, cosig, err := f.post(ctx, i, 0, nil, n)
			var conflict *conflictError
			switch {
			case errors.As(err, &conflict):
				size = conflict.size
			case err != nil:
				errs[i] = err
				return
			default:
				// It knew nothing newer and cosigned ours from scratch.
				f.record(i, cp, n, cosig)
				size = cp.Size
			}
			f.mu.Lock()
			f.states[i].size, f.states[i].known = size, true
			f.mu.Unlock()
			if size > cp.Size {
				errs[i] = &RollbackError{Witness: f.cfg.Policy.Witnesses[i].Name, WitnessSize: size, LocalSize: cp.Size}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		var rb *RollbackError
		if errors.As(err, &rb) {
			return err
		}
		if err != nil {
			f.cfg.Logger.Warn("witness could not confirm the log was not rolled back", "witness", f.cfg.Policy.Witnesses[i].Name, "err", err)
		}
	}
	return nil
}

// Run witnesses checkpoints until ctx ends: a round whenever the log has
// grown (at most one per Interval), and again every Retry while some
// witness has not cosigned the latest.
func (f *Feeder) Run(ctx context.Context) error {
	var last time.Time
	for {
		cp, n := f.log.Checkpoint()
		if cp.Size > 0 && f.due(cp.Size) {
			last = time.Now()
			f.Round(ctx, cp, n)
		}
		// Keep the cadence: never two rounds within one interval.
		select {
		case <-time.After(time.Until(last.Add(f.cfg.Interval))):
		case <-ctx.Done():
			return ctx.Err()
		}
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if f.missing(cp.Size) {
			wctx, cancel = context.WithTimeout(ctx, f.cfg.Retry)
		}
		_, err := f.log.WaitBeyond(wctx, cp.Size)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // a retry timeout: go round again
	}
}

// due reports whether a round for size is worth running: it is newer than
// what was served, or a witness that has not cosigned it may be asked.
func (f *Feeder) due(size uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size > f.served.Size {
		return true
	}
	now := time.Now()
	for _, s := range f.states {
		if s.cosigned != size && !now.Before(s.retryAt) {
			return true
		}
	}
	return false
}

// missing reports whether some witness has not cosigned size.
func (f *Feeder) missing(size uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.states {
		if s.cosigned != size {
			return true
		}
	}
	return false
}

// Round sends cp (signed note n) to every witness that is not backing off,
// in parallel, and serves it with the cosignatures that came back.
func (f *Feeder) Round(ctx context.Context, cp checkpoint.Checkpoint, n []byte) {
	cosigs := make([][]byte, len(f.states))
	var wg sync.WaitGroup
	now := time.Now()
	for i := range f.states {
		f.mu.Lock()
		skip := now.Before(f.states[i].retryAt)
		f.mu.Unlock()
		if skip {
			continue
		}
		wg.Go(func() {
			cosig, err := f.add(ctx, i, cp, n)
			f.mu.Lock()
			defer f.mu.Unlock()
			s := &f.states[i]
			if err != nil {
				s.fails++
				s.retryAt = time.Now().Add(min(minBackoff<<min(s.fails-1, 10), maxBackoff))
				if s.fails == 1 || s.lastErr == nil || s.lastErr.Error() != err.Error() {
					f.cfg.Logger.Warn("witness did not cosign", "witness", f.cfg.Policy.Witnesses[i].Name, "size", cp.Size, "err", err, "retry_in", time.Until(s.retryAt).Round(time.Millisecond))
				}
				s.lastErr = err
				return
			}
			if s.fails > 0 {
				f.cfg.Logger.Info("witness cosigns again", "witness", f.cfg.Policy.Witnesses[i].Name, "size", cp.Size)
			}
			s.fails, s.retryAt, s.lastErr = 0, time.Time{}, nil
			cosigs[i] = cosig
		})
	}
	wg.Wait()
	for i, c := range cosigs {
		if c != nil {
			f.record(i, cp, n, c)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cp.Size > f.served.Size {
		// Nobody cosigned it, but it is the log's latest: serve it with the
		// log's signature alone, so a client with a policy refuses it
		// rather than being handed an old checkpoint as the latest.
		f.serveLocked(cp, n, nil)
	}
}

// record adds witness i's cosignature of cp (signed note n) to the served
// checkpoint, or serves cp with it when cp is newer.
func (f *Feeder) record(i int, cp checkpoint.Checkpoint, n, cosig []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[i].cosigned = cp.Size
	switch {
	case cp.Size < f.served.Size || cp.Size == 0:
		return
	case cp.Size > f.served.Size || f.cosigs == nil:
		f.serveLocked(cp, n, nil)
	}
	f.cosigs[i] = cosig
	f.serveLocked(cp, n, f.cosigs)
}

// serveLocked serves cp with the log's note n and the cosignature lines in
// cosigs, in policy order so the note is the same whoever answered first.
func (f *Feeder) serveLocked(cp checkpoint.Checkpoint, n []byte, cosigs map[int][]byte) {
	if cosigs == nil {
		cosigs = map[int][]byte{}
	}
	out := bytes.Clone(n)
	for i := range f.states {
		out = append(out, cosigs[i]...)
	}
	f.served, f.note, f.cosigs = cp, out, cosigs
	close(f.changed)
	f.changed = make(chan struct{})
}

// add sends cp to witness i from the size the feeder believes it has,
// restarting from the size a 409 names, and returns its verified
// cosignature line.
func (f *Feeder) add(ctx context.Context, i int, cp checkpoint.Checkpoint, n []byte) ([]byte, error) {
	f.mu.Lock()
	old := f.states[i].size
	f.mu.Unlock()
	name := f.cfg.Policy.Witnesses[i].Name
	for range maxConflicts {
		if old > cp.Size {
			return nil, &RollbackError{Witness: name, WitnessSize: old, LocalSize: cp.Size}
		}
		var hashes [][]byte
		if old > 0 && old < cp.Size {
			var err error
			if _, hashes, err = f.log.ConsistencyProof(ctx, old, cp.Size); err != nil {
				return nil, fmt.Errorf("consistency proof from %d to %d for witness %s: %w", old, cp.Size, name, err)
			}
		}
		size, cosig, err := f.post(ctx, i, old, hashes, n)
		var conflict *conflictError
		if errors.As(err, &conflict) {
			old = conflict.size
			f.mu.Lock()
			f.states[i].size, f.states[i].known = old, true
			f.mu.Unlock()
			continue
		}
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.states[i].size, f.states[i].known = size, true
		f.mu.Unlock()
		return cosig, nil
	}
	return nil, fmt.Errorf("witness %s: its size kept changing (%d conflicts)", name, maxConflicts)
}

// conflictError is a 409: the witness's size is not the old size sent.
type conflictError struct{ size uint64 }

func (e *conflictError) Error() string { return fmt.Sprintf("witness is at size %d", e.size) }

// post sends one add-checkpoint request to witness i: "old <size>", the
// consistency proof in base64 one hash a line, a blank line, the note. On
// success it returns the new size and the witness's cosignature lines,
// checked against its key.
func (f *Feeder) post(ctx context.Context, i int, old uint64, proof [][]byte, n []byte) (uint64, []byte, error) {
	w := f.cfg.Policy.Witnesses[i]
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range proof {
		body.WriteString(base64.StdEncoding.EncodeToString(h))
		body.WriteByte('\n')
	}
	body.WriteByte('\n')
	body.Write(n)
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/add-checkpoint", &body)
	if err != nil {
		return 0, nil, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, fmt.Errorf("witness %s: read answer: %w", w.Name, err)
	}
	switch {
	case resp.StatusCode == http.StatusConflict && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/x.tlog.size"):
		s := strings.TrimSpace(string(rb))
		size, err := strconv.ParseUint(s, 10, 64)
		if err != nil || strconv.FormatUint(size, 10) != s {
			return 0, nil, fmt.Errorf("witness %s: 409 with size %q, not a decimal number", w.Name, s)
		}
		return 0, nil, &conflictError{size: size}
	case resp.StatusCode != http.StatusOK:
		return 0, nil, &StatusError{Witness: w.Name, Code: resp.StatusCode, Body: string(rb)}
	}
	cp, err := checkpoint.Parse(noteBody(n))
	if err != nil {
		return 0, nil, err
	}
	cosig, err := verifyCosignature(w, n, rb)
	if err != nil {
		return 0, nil, err
	}
	return cp.Size, cosig, nil
}

// verifyCosignature checks that lines holds exactly one signature line and
// that it is the witness's valid cosignature of n.
func verifyCosignature(w witness.Witness, n, lines []byte) ([]byte, error) {
	if len(lines) == 0 || lines[len(lines)-1] != '\n' || bytes.Count(lines, []byte("\n")) != 1 {
		return nil, fmt.Errorf("witness %s: answer %q is not one signature line", w.Name, lines)
	}
	body := noteBody(n)
	signed := append([]byte(body+"\n"), lines...)
	opened, err := note.Open(signed, note.VerifierList(w.Key))
	if err != nil || len(opened.Sigs) != 1 {
		return nil, fmt.Errorf("witness %s: its cosignature does not verify with its key %s: %v", w.Name, w.VKey, err)
	}
	return lines, nil
}

// noteBody is the text a note's signatures cover.
func noteBody(n []byte) string {
	body, _, _ := strings.Cut(string(n), "\n\n")
	return body + "\n"
}

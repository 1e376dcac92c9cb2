// Package webhook delivers a subscription's events to a member's HTTPS
// endpoint: each event POSTed with an Ed25519 signature over its timestamp
// and body, retried with backoff until the endpoint answers 2xx, at least
// once across restarts (a durable cursor per subscription, moved only after
// a delivery is acknowledged), with an idempotency key per event so that
// the receiver can drop repeats.
//
// It must not read the log itself: a Source (the service's watch reader)
// gives it events, so what a subscription receives is what its member may
// list.
package webhook

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/chemledger/chemledger/internal/atomicfile"
)

// Headers of a delivery.
const (
	// HeaderKey is the idempotency key: the same for every attempt at one
	// event, different for every event.
	HeaderKey = "Chemledger-Delivery"
	// HeaderTimestamp is the attempt's time, in Unix seconds; the
	// signature covers it, so a captured request cannot be replayed later
	// than the receiver's tolerance.
	HeaderTimestamp = "Chemledger-Timestamp"
	// HeaderSignature is "ed25519=" and the base64 signature of
	// timestamp + "." + body.
	HeaderSignature = "Chemledger-Signature"
)

// Event is one delivery of a subscription.
type Event struct {
	// Cursor is the subscription's position once this event is delivered.
	Cursor uint64
	// Key is the event's idempotency key.
	Key string
	// Body is the JSON to POST.
	Body []byte
}

// Source gives a subscription's events after a cursor, in order: at least
// one, blocking until there is one or ctx ends.
type Source interface {
	Next(ctx context.Context, after uint64) ([]Event, error)
}

// Subscription is one member's endpoint.
type Subscription struct {
	ID  string
	URL string
}

// Config configures a Deliverer.
type Config struct {
	// Client sends the POSTs; its transport's TLS roots are those the
	// endpoints' certificates must chain to (chemledgerd --webhook-ca).
	Client *http.Client
	// Key signs every delivery.
	Key ed25519.PrivateKey
	// Dir keeps one cursor file per subscription.
	Dir string
	// MinBackoff and MaxBackoff bound the wait between attempts.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Defaults of Config.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Minute
	DefaultTimeout    = 10 * time.Second
)

// Status is how a subscription's delivery stands.
type Status struct {
	// Cursor is the position delivered up to.
	Cursor uint64
	// Delivered counts events acknowledged since start.
	Delivered uint64
	// LastError is the latest failed attempt's error ("" when the latest
	// attempt succeeded), and when it happened.
	LastError     string
	LastErrorTime time.Time
}

// Deliverer runs subscriptions.
type Deliverer struct {
	cfg Config
	mu  sync.Mutex
	st  map[string]*Status
}

// New returns a Deliverer; zero fields of cfg take the defaults.
func New(cfg Config) *Deliverer {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	return &Deliverer{cfg: cfg, st: map[string]*Status{}}
}

// Status is sub's status, as of the latest attempt.
func (d *Deliverer) Status(id string) (Status, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.st[id]
	if !ok {
		return Status{}, false
	}
	return *s, true
}

func (d *Deliverer) update(id string, f func(*Status)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.st[id]
	if s == nil {
		s = &Status{}
		d.st[id] = s
	}
	f(s)
}

// cursorPath is where sub's cursor is kept.
func (d *Deliverer) cursorPath(id string) string { return filepath.Join(d.cfg.Dir, id+".cursor") }

// Cursor reads sub's durable cursor (0 when it has none yet).
func (d *Deliverer) Cursor(id string) (uint64, error) {
	b, err := os.ReadFile(d.cursorPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("webhook cursor %s: %d bytes, want 8", d.cursorPath(id), len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// Run delivers sub's events from its durable cursor on until ctx ends.
// Each event is retried until acknowledged; only then does the cursor
// move past it, durably, so a restart delivers it again at worst.
func (d *Deliverer) Run(ctx context.Context, sub Subscription, src Source) error {
	if err := os.MkdirAll(d.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("webhook cursors: %w", err)
	}
	cursor, err := d.Cursor(sub.ID)
	if err != nil {
		return err
	}
	d.update(sub.ID, func(s *Status) { s.Cursor = cursor })
	for {
		events, err := src.Next(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("webhook %s: events after %d: %w", sub.ID, cursor, err)
		}
		for _, ev := range events {
			if err := d.deliver(ctx, sub, ev); err != nil {
				return nil // ctx ended while retrying
			}
			if err := atomicfile.Write(d.cursorPath(sub.ID), binary.BigEndian.AppendUint64(nil, ev.Cursor), 0o600); err != nil {
				return fmt.Errorf("webhook %s: keep cursor %d: %w", sub.ID, ev.Cursor, err)
			}
			cursor = ev.Cursor
			d.update(sub.ID, func(s *Status) { s.Cursor, s.Delivered = cursor, s.Delivered+1 })
		}
	}
}

// deliver POSTs ev until the endpoint acknowledges it or ctx ends.
func (d *Deliverer) deliver(ctx context.Context, sub Subscription, ev Event) error {
	backoff := d.cfg.MinBackoff
	for {
		err := d.attempt(ctx, sub, ev)
		if err == nil {
			d.update(sub.ID, func(s *Status) { s.LastError = "" })
			return nil
		}
		d.update(sub.ID, func(s *Status) { s.LastError, s.LastErrorTime = err.Error(), time.Now() })
		d.cfg.Logger.Warn("webhook delivery failed; retrying", "subscription", sub.ID, "key", ev.Key, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, d.cfg.MaxBackoff)
	}
}

func (d *Deliverer) attempt(ctx context.Context, sub Subscription, ev Event) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(ev.Body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderKey, ev.Key)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(d.cfg.Key, ts, ev.Body))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", sub.URL, resp.Status)
	}
	return nil
}

// signed is what a signature covers: the timestamp, a dot, the body.
func signed(ts string, body []byte) []byte { return append([]byte(ts+"."), body...) }

// Sign is the HeaderSignature value for a delivery at ts of body.
func Sign(key ed25519.PrivateKey, ts string, body []byte) string {
	return "ed25519=" + base64.StdEncoding.EncodeToString(ed25519.Sign(key, signed(ts, body)))
}

// ErrBadSignature is a delivery whose signature does not verify.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery as a receiver would: the signature header over
// the timestamp header and body, with the service's webhook key, and the
// timestamp within tolerance of now.
func Verify(pub ed25519.PublicKey, ts, sig string, body []byte, now time.Time, tolerance time.Duration) error {
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %v from now", ErrBadSignature, ts, d.Round(time.Second))
	}
	const prefix = "ed25519="
	if len(sig) <= len(prefix) || sig[:len(prefix)] != prefix {
		return fmt.Errorf("%w: want %s<base64>", ErrBadSignature, prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(sig[len(prefix):])
	if err != nil || !ed25519.Verify(pub, signed(ts, body), raw) {
		return ErrBadSignature
	}
	return nil
}

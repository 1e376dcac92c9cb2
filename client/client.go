// Package client is the Go client of a chemledger log. It submits signed
// shipment events and reads entries, checkpoints and proofs, and it takes
// nothing the log says on trust that it can check: every receipt, checkpoint,
// entry and proof is verified against the log's note verifier key before it
// is returned, so a caller holding a result holds something the log signed.
//
// It must not import the server's insides (ledger, storage, detect, derive):
// a member's national system builds it against the API contract alone.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/witness"
)

// ErrVerification marks an answer from the log that does not check out: a
// checkpoint that is not signed by the log's key, a proof that does not
// verify, a hash that is not the hash of what was sent. It means the log (or
// something between it and the client) is wrong or lying, never that the
// caller's input was bad.
var ErrVerification = errors.New("verification failed")

// Client talks to one log. It is safe for concurrent use.
type Client struct {
	conn *grpc.ClientConn
	rpc  chemledgerv1.LedgerServiceClient

	mu       sync.Mutex
	vkey     string
	verifier note.Verifier // nil until known: given with WithLogVerifierKey or fetched on first need

	policy      *witness.Policy // nil: the log's signature suffices
	witnessWait time.Duration
}

// Option configures Dial.
type Option func(*settings)

type settings struct {
	creds    credentials.TransportCredentials
	vkey     string
	dialOpts []grpc.DialOption

	policy      *witness.Policy
	witnessWait time.Duration
}

// WithTransportCredentials sets the transport security of the connection.
// Without it the connection is plaintext.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(s *settings) { s.creds = creds }
}

// WithTLS connects with mutual TLS: cfg holds the member's certificate
// and the CA that issued the server's (pki.LoadClient).
func WithTLS(cfg *tls.Config) Option {
	return func(s *settings) { s.creds = credentials.NewTLS(cfg) }
}

// WithLogVerifierKey pins the log's note verifier key
// (golang.org/x/mod/sumdb/note format). Without it the client asks the log
// for its key on first need and trusts the answer from then on.
func WithLogVerifierKey(vkey string) Option {
	return func(s *settings) { s.vkey = vkey }
}

// WithDialOptions adds gRPC dial options, applied after the client's own.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOpts = append(s.dialOpts, opts...) }
}

// Dial returns a client of the log at target. It does not connect until the
// first call.
func Dial(target string, opts ...Option) (*Client, error) {
	s := settings{creds: insecure.NewCredentials()}
	for _, o := range opts {
		o(&s)
	}
	c := &Client{policy: s.policy, witnessWait: s.witnessWait}
	if s.vkey != "" {
		v, err := note.NewVerifier(s.vkey)
		if err != nil {
			return nil, fmt.Errorf("log verifier key: %w", err)
		}
		c.vkey, c.verifier = s.vkey, v
	}
	dopts := append([]grpc.DialOption{grpc.WithTransportCredentials(s.creds)}, s.dialOpts...)
	conn, err := grpc.NewClient(target, dopts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	c.conn = conn
	c.rpc = chemledgerv1.NewLedgerServiceClient(conn)
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// LogVerifierKey returns the note verifier key the client checks the log's
// checkpoints with. When none was given to Dial it fetches the log's own key
// (trust on first use), so a caller can show it or pin it next time.
func (c *Client) LogVerifierKey(ctx context.Context) (string, error) {
	if _, err := c.logVerifier(ctx); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vkey, nil
}

// logVerifier returns the log's verifier, fetching it once. The checkpoint
// origin is the verifier's name.
func (c *Client) logVerifier(ctx context.Context) (note.Verifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verifier != nil {
		return c.verifier, nil
	}
	info, err := c.rpc.GetLog(ctx, &chemledgerv1.GetLogRequest{})
	if err != nil {
		return nil, fmt.Errorf("get the log's verifier key: %w", err)
	}
	v, err := note.NewVerifier(info.GetVerifierKey())
	if err != nil {
		return nil, fmt.Errorf("%w: the log's verifier key %q: %w", ErrVerification, info.GetVerifierKey(), err)
	}
	if info.GetOrigin() != v.Name() {
		return nil, fmt.Errorf("%w: the log's origin %q is not the name of its key %q", ErrVerification, info.GetOrigin(), v.Name())
	}
	c.vkey, c.verifier = info.GetVerifierKey(), v
	return v, nil
}

// openCheckpoint verifies a checkpoint from the log: its note must be signed
// by the log's key for the log's origin, and the unsigned size and root
// fields beside it must say the same as the note.
func (c *Client) openCheckpoint(ctx context.Context, pb *chemledgerv1.Checkpoint) (checkpoint.Checkpoint, []byte, error) {
	v, err := c.logVerifier(ctx)
	if err != nil {
		return checkpoint.Checkpoint{}, nil, err
	}
	if pb == nil {
		return checkpoint.Checkpoint{}, nil, fmt.Errorf("%w: the log sent no checkpoint", ErrVerification)
	}
	signed := []byte(pb.GetNote())
	cp, err := checkpoint.Open(signed, v.Name(), v)
	if err != nil {
		return checkpoint.Checkpoint{}, nil, fmt.Errorf("%w: %w", ErrVerification, err)
	}
	if pb.GetSize() != cp.Size || !bytes.Equal(pb.GetRootHash(), cp.Root) {
		return checkpoint.Checkpoint{}, nil, fmt.Errorf("%w: the checkpoint's size and root (%d, %x) differ from its signed note (%d, %x)",
			ErrVerification, pb.GetSize(), pb.GetRootHash(), cp.Size, cp.Root)
	}
	return cp, signed, nil
}

// Checkpoint returns the log's latest checkpoint, verified, and its signed
// note text.
func (c *Client) Checkpoint(ctx context.Context) (checkpoint.Checkpoint, []byte, error) {
	pb, err := c.rpc.GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
	if err != nil {
		return checkpoint.Checkpoint{}, nil, fmt.Errorf("get checkpoint: %w", err)
	}
	cp, signed, err := c.openCheckpoint(ctx, pb)
	if err == nil {
		err = c.checkQuorum(signed)
	}
	if err != nil {
		return checkpoint.Checkpoint{}, nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	return cp, signed, nil
}

// Get returns the entry at index, after checking that its leaf hash is the
// hash of its leaf. That the leaf is in the log is what VerifyInclusion
// proves.
func (c *Client) Get(ctx context.Context, index uint64) (*chemledgerv1.Entry, error) {
	e, err := c.rpc.GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: index})
	if err != nil {
		return nil, fmt.Errorf("get entry %d: %w", index, err)
	}
	if e.GetIndex() != index {
		return nil, fmt.Errorf("get entry %d: %w: the log answered with entry %d", index, ErrVerification, e.GetIndex())
	}
	if err := checkEntry(e); err != nil {
		return nil, fmt.Errorf("get entry %d: %w", index, err)
	}
	return e, nil
}

func checkEntry(e *chemledgerv1.Entry) error {
	if len(e.GetLeaf()) == 0 && len(e.GetLeafHash()) == 32 && e.GetEvent() == nil && e.GetRegistry() == nil && e.GetDisposition() == nil {
		// An auditor's view: the hash alone, with nothing it could be
		// the hash of. Its inclusion proof is still checked.
		return nil
	}
	if want := checkpoint.LeafHash(e.GetLeaf()); !bytes.Equal(e.GetLeafHash(), want) {
		return fmt.Errorf("%w: entry %d has leaf hash %x, but its leaf hashes to %x", ErrVerification, e.GetIndex(), e.GetLeafHash(), want)
	}
	return nil
}

// List returns the entries that match filter (see ListEntriesRequest), in
// log order, fetching pages of pageSize (0: the log's default) as the caller
// iterates. Iteration stops after the first error.
func (c *Client) List(ctx context.Context, filter string, pageSize int32) iter.Seq2[*chemledgerv1.Entry, error] {
	return func(yield func(*chemledgerv1.Entry, error) bool) {
		var token string
		seen := false
		var last uint64
		for {
			resp, err := c.rpc.ListEntries(ctx, &chemledgerv1.ListEntriesRequest{Filter: filter, PageSize: pageSize, PageToken: token})
			if err != nil {
				yield(nil, fmt.Errorf("list entries: %w", err))
				return
			}
			for _, e := range resp.GetEntries() {
				// Strictly increasing indexes also stop a log that hands out
				// the same page forever.
				if seen && e.GetIndex() <= last {
					yield(nil, fmt.Errorf("list entries: %w: entry %d after entry %d is out of log order", ErrVerification, e.GetIndex(), last))
					return
				}
				seen, last = true, e.GetIndex()
				if err := checkEntry(e); err != nil {
					yield(nil, fmt.Errorf("list entries: %w", err))
					return
				}
				if !yield(e, nil) {
					return
				}
			}
			next := resp.GetNextPageToken()
			if next == "" {
				return
			}
			if next == token {
				yield(nil, fmt.Errorf("list entries: the log returned page token %q again", next))
				return
			}
			token = next
		}
	}
}

var submissionIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ValidSubmissionID reports whether id is a submission id the log accepts:
// 1 to 128 letters, digits and "-_.:".
func ValidSubmissionID(id string) bool { return submissionIDPattern.MatchString(id) }

package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/witness"
)

// WithWitnessPolicy makes the client accept a checkpoint only with the
// policy's quorum of witness cosignatures: Checkpoint, VerifyInclusion,
// VerifyConsistency (the kept checkpoint too), and receipts, which come
// signed by the log alone and so are proved again against the first
// witnessed checkpoint that covers them (waiting up to WithWitnessWait).
// Without a policy a client trusts the log's signature alone, which the
// operator holds: a forked or rolled-back log would go unnoticed.
//
// SubmitStream's results still carry each batch's log-signed checkpoint
// (a stream answers thousands of entries a second and must not wait a
// witnessing round per batch); VerifyInclusion proves any of them against
// a witnessed checkpoint afterwards.
func WithWitnessPolicy(p *witness.Policy) Option {
	return func(s *settings) { s.policy = p }
}

// WithWitnessWait bounds how long a receipt waits for a witnessed
// checkpoint (default DefaultWitnessWait).
func WithWitnessWait(d time.Duration) Option {
	return func(s *settings) { s.witnessWait = d }
}

// DefaultWitnessWait is several of the log's witnessing rounds (250 ms
// each by default): a receipt not witnessed by then means the witnesses
// are down or refuse the log.
const DefaultWitnessWait = 10 * time.Second

// witnessPollEvery is how often a receipt asks for a newer checkpoint.
const witnessPollEvery = 50 * time.Millisecond

// checkQuorum is the policy check of a checkpoint note the log signed.
func (c *Client) checkQuorum(signed []byte) error {
	if c.policy == nil {
		return nil
	}
	if err := c.policy.Check(signed); err != nil {
		return fmt.Errorf("%w: %w", ErrVerification, err)
	}
	return nil
}

// witnessReceipt replaces r's log-signed checkpoint and proof by the first
// witnessed checkpoint that covers r.Index and an inclusion proof against
// it, checked.
func (c *Client) witnessReceipt(ctx context.Context, r *Receipt) error {
	if c.policy == nil {
		return nil
	}
	wait := c.witnessWait
	if wait <= 0 {
		wait = DefaultWitnessWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var last error
	for {
		cp, signed, err := c.Checkpoint(ctx)
		switch {
		case err == nil && cp.Size > r.Index:
			p, err := c.rpc.GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: r.Index, TreeSize: cp.Size})
			if err != nil {
				return fmt.Errorf("get inclusion proof of entry %d at witnessed size %d: %w", r.Index, cp.Size, err)
			}
			if p.GetIndex() != r.Index || p.GetTreeSize() != cp.Size {
				return fmt.Errorf("%w: asked for a proof of entry %d at size %d, got one of entry %d at size %d",
					ErrVerification, r.Index, cp.Size, p.GetIndex(), p.GetTreeSize())
			}
			if err := cp.VerifyInclusion(r.Index, r.LeafHash, p.GetHashes()); err != nil {
				return proofFailed(err)
			}
			r.Checkpoint, r.CheckpointNote, r.Proof = cp, signed, p.GetHashes()
			return nil
		case err == nil:
			last = fmt.Errorf("the witnessed checkpoint has %d entries", cp.Size)
		case errors.Is(err, witness.ErrNoQuorum):
			last = err
		case ctx.Err() != nil && last != nil:
			// Our own wait ran out during a read: the answer is what the
			// reads before it showed, not the deadline.
			return fmt.Errorf("%w: entry %d is in the log, but no checkpoint with the witness quorum covered it within %v: %w", ErrVerification, r.Index, wait, last)
		default:
			return err
		}
		select {
		case <-time.After(witnessPollEvery):
		case <-ctx.Done():
			return fmt.Errorf("%w: entry %d is in the log, but no checkpoint with the witness quorum covered it within %v: %w", ErrVerification, r.Index, wait, last)
		}
	}
}

// keptCheckpoint opens a checkpoint kept from before, signed by the log and,
// with a policy, with its quorum.
func (c *Client) keptCheckpoint(keptNote []byte, origin string, verify func([]byte) (checkpoint.Checkpoint, error)) (checkpoint.Checkpoint, error) {
	kept, err := verify(keptNote)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("kept checkpoint: %w", err)
	}
	if err := c.checkQuorum(keptNote); err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("kept checkpoint: %w", err)
	}
	return kept, nil
}

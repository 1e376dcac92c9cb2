package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/proof"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// VerifyInclusion proves that the entry at index is in the log: it fetches
// the entry and the latest checkpoint, asks for an inclusion proof at the
// checkpoint's size and checks it. It returns the checkpoint the entry was
// proved against.
func (c *Client) VerifyInclusion(ctx context.Context, index uint64) (checkpoint.Checkpoint, error) {
	e, err := c.Get(ctx, index)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	cp, _, err := c.Checkpoint(ctx)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	if index >= cp.Size {
		return checkpoint.Checkpoint{}, fmt.Errorf("entry %d is not in the latest checkpoint, of size %d", index, cp.Size)
	}
	p, err := c.rpc.GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: index, TreeSize: cp.Size})
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("get inclusion proof of entry %d at size %d: %w", index, cp.Size, err)
	}
	if p.GetIndex() != index || p.GetTreeSize() != cp.Size {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: asked for a proof of entry %d at size %d, got one of entry %d at size %d",
			ErrVerification, index, cp.Size, p.GetIndex(), p.GetTreeSize())
	}
	if len(p.GetLeafHash()) > 0 && !bytes.Equal(p.GetLeafHash(), e.GetLeafHash()) {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: the proof is for leaf hash %x, entry %d has %x", ErrVerification, p.GetLeafHash(), index, e.GetLeafHash())
	}
	if err := cp.VerifyInclusion(index, e.GetLeafHash(), p.GetHashes()); err != nil {
		return checkpoint.Checkpoint{}, proofFailed(err)
	}
	return cp, nil
}

// VerifyConsistency checks that the log today extends a checkpoint kept from
// earlier (its signed note): that nothing the log once committed to has been
// changed or dropped. It returns the latest checkpoint and its note, which
// the caller should keep in place of the old one. If the log cannot prove
// it, the error is a *ConsistencyError that holds both signed checkpoints.
func (c *Client) VerifyConsistency(ctx context.Context, keptNote []byte) (checkpoint.Checkpoint, []byte, error) {
	v, err := c.logVerifier(ctx)
	if err != nil {
		return checkpoint.Checkpoint{}, nil, err
	}
	kept, err := c.keptCheckpoint(keptNote, v.Name(), func(n []byte) (checkpoint.Checkpoint, error) { return checkpoint.Open(n, v.Name(), v) })
	if err != nil {
		return checkpoint.Checkpoint{}, nil, err
	}
	latest, latestNote, err := c.Checkpoint(ctx)
	if err != nil {
		return checkpoint.Checkpoint{}, nil, err
	}
	var hashes [][]byte
	// Equal sizes need equal roots, a shrunk log needs nothing more to
	// convict it, and every tree extends the empty one: only a real
	// extension needs a proof.
	if kept.Size > 0 && kept.Size < latest.Size {
		p, err := c.rpc.GetConsistencyProof(ctx, &chemledgerv1.GetConsistencyProofRequest{First: kept.Size, Second: latest.Size})
		if err != nil {
			return checkpoint.Checkpoint{}, nil, fmt.Errorf("get consistency proof from size %d to %d: %w", kept.Size, latest.Size, err)
		}
		if p.GetFirst() != kept.Size || p.GetSecond() != latest.Size {
			return checkpoint.Checkpoint{}, nil, fmt.Errorf("%w: asked for a consistency proof from size %d to %d, got one from %d to %d",
				ErrVerification, kept.Size, latest.Size, p.GetFirst(), p.GetSecond())
		}
		hashes = p.GetHashes()
	}
	if err := latest.VerifyConsistency(kept, hashes); err != nil {
		return checkpoint.Checkpoint{}, nil, &ConsistencyError{Kept: keptNote, Latest: latestNote, Err: readable(err)}
	}
	return latest, latestNote, nil
}

// ConsistencyError is the evidence that the log rewrote its history: two
// checkpoints, both signed by the log, that the log cannot show to be one
// growing tree.
type ConsistencyError struct {
	Kept   []byte // the signed note of the checkpoint kept from before
	Latest []byte // the signed note of the log's latest checkpoint
	Err    error  // why they are not consistent
}

func (e *ConsistencyError) Error() string {
	return fmt.Sprintf("the log does not extend the kept checkpoint: %v\n\nkept checkpoint:\n%s\nlatest checkpoint:\n%s", e.Err, e.Kept, e.Latest)
}

// Unwrap lets errors.Is(err, ErrVerification) hold, as for every other
// failed check, and reaches the cause.
func (e *ConsistencyError) Unwrap() []error { return []error{ErrVerification, e.Err} }

// proofFailed is a failed proof check as an ErrVerification.
func proofFailed(err error) error {
	return &verifyError{err: readable(err)}
}

type verifyError struct{ err error }

func (e *verifyError) Error() string   { return ErrVerification.Error() + ": " + e.err.Error() }
func (e *verifyError) Unwrap() []error { return []error{ErrVerification, e.err} }

// readable rewords a root mismatch, which the merkle library prints as two
// multi-line lists of bytes, with the roots in base64 as checkpoints show
// them. The cause stays reachable with errors.As.
func readable(err error) error {
	var rm proof.RootMismatchError
	if !errors.As(err, &rm) {
		return err
	}
	msg := strings.Replace(err.Error(), rm.Error(), fmt.Sprintf("the proof leads to root %s where %s was expected",
		base64.StdEncoding.EncodeToString(rm.CalculatedRoot), base64.StdEncoding.EncodeToString(rm.ExpectedRoot)), 1)
	return &rewordedError{msg: msg, err: err}
}

type rewordedError struct {
	msg string
	err error
}

func (e *rewordedError) Error() string { return e.msg }
func (e *rewordedError) Unwrap() error { return e.err }

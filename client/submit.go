package client

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Receipt is a verified answer to a submission: the entry's place in the log
// and the proof, already checked, that the signed checkpoint's tree holds
// it. Keep CheckpointNote and Proof to show anyone, offline, that the log
// accepted the envelope.
type Receipt struct {
	SubmissionID   string
	Index          uint64
	LeafHash       []byte
	Member         string
	IntegratedTime time.Time
	Checkpoint     checkpoint.Checkpoint
	CheckpointNote []byte
	Proof          [][]byte
}

// deterministic makes a retry of the same event send the same bytes, which
// the log answers with the original receipt instead of ALREADY_EXISTS.
var deterministic = proto.MarshalOptions{Deterministic: true}

// Submit signs ev as a binary protobuf envelope and submits it; see
// SubmitEnvelope.
func (c *Client) Submit(ctx context.Context, submissionID string, ev *chemledgerv1.ShipmentEvent, signer envelope.Signer) (*Receipt, error) {
	payload, err := deterministic.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	env, err := envelope.Sign(envelope.PayloadTypeEventProto, payload, signer)
	if err != nil {
		return nil, err
	}
	return c.SubmitEnvelope(ctx, submissionID, env)
}

// SubmitEnvelope submits a signed envelope and returns its receipt once the
// log has made it durable. Before returning it checks that the checkpoint is
// signed by the log, that the receipt's leaf hash is the hash of exactly the
// bytes sent, and that the inclusion proof puts that leaf at the receipt's
// index in the checkpoint's tree; a failure wraps ErrVerification. A refusal
// by the log is its gRPC status (see AsItemError). Retrying with the same id
// and bytes is safe.
func (c *Client) SubmitEnvelope(ctx context.Context, submissionID string, env []byte) (*Receipt, error) {
	// Know the key before submitting, so an accepted entry is never left
	// unverifiable for want of it.
	if _, err := c.logVerifier(ctx); err != nil {
		return nil, err
	}
	pb, err := c.rpc.CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: submissionID, Envelope: env})
	if err != nil {
		return nil, fmt.Errorf("create entry %q: %w", submissionID, err)
	}
	r, err := c.verifyReceipt(ctx, submissionID, env, pb)
	if err == nil {
		err = c.witnessReceipt(ctx, r)
	}
	if err != nil {
		return nil, fmt.Errorf("receipt for %q: %w", submissionID, err)
	}
	return r, nil
}

func (c *Client) verifyReceipt(ctx context.Context, submissionID string, env []byte, pb *chemledgerv1.Receipt) (*Receipt, error) {
	cp, signed, err := c.openCheckpoint(ctx, pb.GetCheckpoint())
	if err != nil {
		return nil, err
	}
	if pb.GetSubmissionId() != submissionID {
		return nil, fmt.Errorf("%w: the receipt is for submission %q", ErrVerification, pb.GetSubmissionId())
	}
	leafHash := checkpoint.LeafHash(env)
	if !bytes.Equal(pb.GetLeafHash(), leafHash) {
		return nil, fmt.Errorf("%w: the receipt's leaf hash %x is not the hash of the envelope sent (%x)", ErrVerification, pb.GetLeafHash(), leafHash)
	}
	if err := cp.VerifyInclusion(pb.GetIndex(), leafHash, pb.GetInclusionProof()); err != nil {
		return nil, proofFailed(err)
	}
	r := &Receipt{
		SubmissionID:   submissionID,
		Index:          pb.GetIndex(),
		LeafHash:       leafHash,
		Member:         pb.GetMember(),
		Checkpoint:     cp,
		CheckpointNote: signed,
		Proof:          pb.GetInclusionProof(),
	}
	if t := pb.GetIntegratedTime(); t != nil {
		r.IntegratedTime = t.AsTime()
	}
	return r, nil
}

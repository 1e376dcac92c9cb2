package client

import (
	"bytes"
	"context"
	"fmt"
	"iter"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// analyst is the AnalystService stub on the client's connection; stubs are
// free to make.
//
// Flags, shipments, rules and statistics are the detector's reading of the
// log, which the log does not sign, so the client has nothing in them to
// check but the entries a flag cites as evidence (Flag verifies those) and
// the receipt of a disposition (Dispose verifies it).
func (c *Client) analyst() chemledgerv1.AnalystServiceClient {
	return chemledgerv1.NewAnalystServiceClient(c.conn)
}

// Flags returns the flags that match filter (see ListFlagsRequest), in the
// order orderBy names ("" for newest first, or "severity desc"), fetching
// pages of pageSize (0: the log's default) as the caller iterates.
// Iteration stops after the first error.
func (c *Client) Flags(ctx context.Context, filter, orderBy string, pageSize int32) iter.Seq2[*chemledgerv1.Flag, error] {
	return func(yield func(*chemledgerv1.Flag, error) bool) {
		var token string
		for {
			resp, err := c.analyst().ListFlags(ctx, &chemledgerv1.ListFlagsRequest{Filter: filter, OrderBy: orderBy, PageSize: pageSize, PageToken: token})
			if err != nil {
				yield(nil, fmt.Errorf("list flags: %w", err))
				return
			}
			for _, f := range resp.GetFlags() {
				if !yield(f, nil) {
					return
				}
			}
			next := resp.GetNextPageToken()
			if next == "" {
				return
			}
			if next == token {
				yield(nil, fmt.Errorf("list flags: the log returned page token %q again", next))
				return
			}
			token = next
		}
	}
}

// Flag returns the flag id with its evidence, after verifying every
// evidence entry: that the entries are the ones the flag cites, that each
// entry's leaf hash is the hash of its leaf, that each proof's checkpoint is
// signed by the log's key for the log's origin, and that each inclusion
// proof puts the entry in that checkpoint's tree. A failure wraps
// ErrVerification. Proofs[i].TreeSize is then the verified size of a tree
// that holds Evidence[i].
func (c *Client) Flag(ctx context.Context, id string) (*chemledgerv1.FlagDetail, error) {
	d, err := c.analyst().GetFlag(ctx, &chemledgerv1.GetFlagRequest{Id: id})
	if err != nil {
		return nil, fmt.Errorf("get flag %s: %w", id, err)
	}
	if err := c.verifyEvidence(ctx, id, d); err != nil {
		return nil, fmt.Errorf("flag %s: %w", id, err)
	}
	return d, nil
}

func (c *Client) verifyEvidence(ctx context.Context, id string, d *chemledgerv1.FlagDetail) error {
	f := d.GetFlag()
	if f.GetId() != id {
		return fmt.Errorf("%w: the log answered with flag %q", ErrVerification, f.GetId())
	}
	cited := f.GetEvidence()
	if len(d.GetEvidence()) != len(cited) || len(d.GetProofs()) != len(cited) {
		return fmt.Errorf("%w: the flag cites %d entries; the log sent %d entries and %d proofs",
			ErrVerification, len(cited), len(d.GetEvidence()), len(d.GetProofs()))
	}
	for i, e := range d.GetEvidence() {
		p := d.GetProofs()[i]
		if e.GetIndex() != cited[i] || p.GetIndex() != cited[i] {
			return fmt.Errorf("%w: evidence %d is entry %d with a proof of entry %d, but the flag cites entry %d",
				ErrVerification, i, e.GetIndex(), p.GetIndex(), cited[i])
		}
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("evidence entry %d: %w", e.GetIndex(), err)
		}
		if len(p.GetLeafHash()) > 0 && !bytes.Equal(p.GetLeafHash(), e.GetLeafHash()) {
			return fmt.Errorf("evidence entry %d: %w: the proof is for leaf hash %x, the entry has %x", e.GetIndex(), ErrVerification, p.GetLeafHash(), e.GetLeafHash())
		}
		cp, _, err := c.openCheckpoint(ctx, p.GetCheckpoint())
		if err != nil {
			return fmt.Errorf("evidence entry %d: checkpoint: %w", e.GetIndex(), err)
		}
		if p.GetTreeSize() != cp.Size {
			return fmt.Errorf("evidence entry %d: %w: the proof is for size %d, its checkpoint is of size %d",
				e.GetIndex(), ErrVerification, p.GetTreeSize(), cp.Size)
		}
		if err := cp.VerifyInclusion(e.GetIndex(), e.GetLeafHash(), p.GetHashes()); err != nil {
			return fmt.Errorf("evidence entry %d: %w", e.GetIndex(), proofFailed(err))
		}
	}
	return nil
}

// Dispose records a decision on flag flagID: it signs a Disposition with
// the note as a proto3 JSON envelope, submits it under submissionID, and
// returns the receipt once the log has made it durable, verified as
// SubmitEnvelope verifies one. The flag's status follows once the detector
// has read the entry. Retrying with the same arguments is safe: the same
// signer signs the same bytes, which the log answers with the original
// receipt.
func (c *Client) Dispose(ctx context.Context, flagID string, status chemledgerv1.DispositionStatus, note string, signer envelope.Signer, submissionID string) (*Receipt, error) {
	payload, err := protojson.Marshal(&chemledgerv1.Disposition{FlagId: flagID, Status: status, Note: note})
	if err != nil {
		return nil, fmt.Errorf("encode disposition: %w", err)
	}
	env, err := envelope.Sign(envelope.PayloadTypeDispositionJSON, payload, signer)
	if err != nil {
		return nil, err
	}
	// As in SubmitEnvelope: know the key before the entry is accepted.
	if _, err := c.logVerifier(ctx); err != nil {
		return nil, err
	}
	pb, err := c.analyst().CreateDisposition(ctx, &chemledgerv1.CreateDispositionRequest{Id: flagID, SubmissionId: submissionID, Envelope: env})
	if err != nil {
		return nil, fmt.Errorf("dispose of flag %s: %w", flagID, err)
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

// Shipment returns every leg of the shipment ref, from every member, with
// quantities reconciled to kilograms of pure substance, what the record
// does not yet show, and the flags on it.
func (c *Client) Shipment(ctx context.Context, ref string) (*chemledgerv1.Shipment, error) {
	s, err := c.analyst().GetShipment(ctx, &chemledgerv1.GetShipmentRequest{Ref: ref})
	if err != nil {
		return nil, fmt.Errorf("get shipment %s: %w", ref, err)
	}
	return s, nil
}

// Rules returns the rule catalogue with the thresholds in force and the
// policy version.
func (c *Client) Rules(ctx context.Context) (*chemledgerv1.ListRulesResponse, error) {
	r, err := c.analyst().ListRules(ctx, &chemledgerv1.ListRulesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return r, nil
}

// Stats counts the flags that match filter (as in Flags) by rule, country,
// chemical and month.
func (c *Client) Stats(ctx context.Context, filter string) (*chemledgerv1.Stats, error) {
	s, err := c.analyst().GetStats(ctx, &chemledgerv1.GetStatsRequest{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("get stats: %w", err)
	}
	return s, nil
}

// AuditRecords returns one page of the audit trail from seq start (an
// auditor's call), and how many records the trail holds.
func (c *Client) AuditRecords(ctx context.Context, start uint64, size int32) (*chemledgerv1.ListAuditRecordsResponse, error) {
	r, err := chemledgerv1.NewAuditServiceClient(c.conn).ListAuditRecords(ctx, &chemledgerv1.ListAuditRecordsRequest{StartSeq: start, PageSize: size})
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	return r, nil
}

// AuditHead is a record of the audit trail an auditor kept from an earlier
// check: a later trail must still hold it, unchanged.
type AuditHead struct {
	Seq  uint64 `json:"seq"`
	Hash []byte `json:"hash"`
}

// VerifyAuditTrail reads the whole audit trail and checks its hash chain
// from the first record: every record's hash recomputes and links to the
// one before. With kept, the trail must also still hold that record with
// that hash: a trail cut back (its tail removed) or rewritten since the
// auditor's last check is detected, which the chain alone cannot show. It
// returns the number of records checked and the last one.
func (c *Client) VerifyAuditTrail(ctx context.Context, kept *AuditHead) (uint64, *chemledgerv1.AuditRecord, error) {
	n, last, err := c.verifyAuditChain(ctx, kept)
	if err == nil && kept != nil && n <= kept.Seq {
		err = fmt.Errorf("%w: the audit trail holds %d records, but record %d was kept from an earlier check: it has been cut back", ErrVerification, n, kept.Seq)
	}
	return n, last, err
}

func (c *Client) verifyAuditChain(ctx context.Context, kept *AuditHead) (uint64, *chemledgerv1.AuditRecord, error) {
	var (
		n    uint64
		prev []byte
		last *chemledgerv1.AuditRecord
	)
	for {
		page, err := c.AuditRecords(ctx, n, 1000)
		if err != nil {
			return n, last, err
		}
		recs := make([]audit.Record, len(page.GetRecords()))
		for i, r := range page.GetRecords() {
			recs[i] = audit.FromProto(r)
		}
		if len(recs) > 0 && recs[0].Seq != n {
			return n, last, fmt.Errorf("%w: audit trail page starts at seq %d, want %d", ErrVerification, recs[0].Seq, n)
		}
		if err := audit.Verify(prev, recs); err != nil {
			return n, last, fmt.Errorf("%w: %w", ErrVerification, err)
		}
		if kept != nil && len(recs) > 0 && kept.Seq >= recs[0].Seq && kept.Seq < recs[0].Seq+uint64(len(recs)) {
			if r := recs[kept.Seq-recs[0].Seq]; !bytes.Equal(r.Hash, kept.Hash) {
				return n, last, fmt.Errorf("%w: audit record %d hashes to %x now, %x when it was kept: the trail was rewritten", ErrVerification, kept.Seq, r.Hash, kept.Hash)
			}
		}
		if len(recs) == 0 {
			return n, last, nil
		}
		n += uint64(len(recs))
		prev, last = recs[len(recs)-1].Hash, page.GetRecords()[len(recs)-1]
		if n >= page.GetTotal() {
			return n, last, nil
		}
	}
}

package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/badinput"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// analystService implements chemledger.v1.AnalystService over the derived
// state. Dispositions go through the same admission and sequencer as every
// other entry: they are signed log entries.
type analystService struct {
	chemledgerv1.UnsafeAnalystServiceServer

	entries *ledgerService
	deriver *derive.Deriver
	policy  detect.Policy
	log     *slog.Logger
}

// NewAnalystService returns the gRPC implementation of the analyst API.
func NewAnalystService(entries chemledgerv1.LedgerServiceServer, d *derive.Deriver, policy detect.Policy, log *slog.Logger) chemledgerv1.AnalystServiceServer {
	return &analystService{entries: entries.(*ledgerService), deriver: d, policy: policy, log: log}
}

func (s *analystService) ListFlags(ctx context.Context, req *chemledgerv1.ListFlagsRequest) (*chemledgerv1.ListFlagsResponse, error) {
	flags, next, err := s.deriver.ListFlags(derive.Query{
		Filter: req.GetFilter(), OrderBy: req.GetOrderBy(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	resp := &chemledgerv1.ListFlagsResponse{NextPageToken: next}
	for i := range flags {
		resp.Flags = append(resp.Flags, flagProto(&flags[i]))
	}
	return resp, nil
}

func (s *analystService) GetFlag(ctx context.Context, req *chemledgerv1.GetFlagRequest) (*chemledgerv1.FlagDetail, error) {
	f, err := s.deriver.Flag(req.GetId())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	out := &chemledgerv1.FlagDetail{Flag: flagProto(&f)}
	cp, note := s.entries.ledger.Checkpoint()
	for _, i := range f.Evidence {
		e, err := s.entries.ledger.Entry(ctx, i)
		if err != nil {
			return nil, toStatus(s.log, fmt.Errorf("evidence entry %d of flag %s: %w", i, f.ID, err))
		}
		out.Evidence = append(out.Evidence, s.entries.entryProto(e))
		size, hashes, err := s.entries.ledger.InclusionProof(ctx, i, cp.Size)
		if err != nil {
			return nil, toStatus(s.log, err)
		}
		out.Proofs = append(out.Proofs, &chemledgerv1.InclusionProof{
			Index: i, TreeSize: size, LeafHash: e.LeafHash, Hashes: hashes, Checkpoint: checkpointProto(cp, note),
		})
	}
	return out, nil
}

func (s *analystService) CreateDisposition(ctx context.Context, req *chemledgerv1.CreateDispositionRequest) (*chemledgerv1.Receipt, error) {
	sub, p, err := s.entries.admitPayload(ctx, req.GetSubmissionId(), req.GetEnvelope())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	switch {
	case p.Disposition == nil:
		return nil, toStatus(s.log, badinput.New("envelope.payload_type", "must be a disposition (%s)", "application/vnd.chemledger.disposition.v1+json or +protobuf"))
	case p.Disposition.GetFlagId() != req.GetId():
		return nil, toStatus(s.log, badinput.New("id", "the disposition in the envelope is of flag %q, not %q", p.Disposition.GetFlagId(), req.GetId()))
	}
	if _, err := s.deriver.Flag(req.GetId()); err != nil {
		return nil, toStatus(s.log, err)
	}
	r, err := s.entries.ledger.Submit(ctx, sub)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	return receiptProto(r), nil
}

func (s *analystService) ListRules(ctx context.Context, req *chemledgerv1.ListRulesRequest) (*chemledgerv1.ListRulesResponse, error) {
	resp := &chemledgerv1.ListRulesResponse{PolicyVersion: s.deriver.PolicyVersion()}
	for _, r := range detect.Catalogue() {
		rp := s.policy.Rules[r.ID]
		if rp.Disabled {
			continue
		}
		pr := &chemledgerv1.Rule{
			Id: r.ID, Version: int32(r.Version), Name: r.Name, Severity: severityProto(r.Severity),
			Description: r.Explanation, Source: r.Source, TimeBased: r.TimeBased,
		}
		for _, t := range r.Thresholds {
			v := t.Default
			if o, ok := rp.Thresholds[t.Name]; ok {
				v = o
			}
			pr.Thresholds = append(pr.Thresholds, &chemledgerv1.Threshold{Name: t.Name, Value: strconv.FormatFloat(v, 'g', -1, 64) + " " + t.Unit})
		}
		resp.Rules = append(resp.Rules, pr)
	}
	return resp, nil
}

func flagProto(f *derive.Flag) *chemledgerv1.Flag {
	out := &chemledgerv1.Flag{
		Id: f.ID, RuleId: f.RuleID, RuleVersion: int32(f.RuleVersion), PolicyVersion: f.PolicyVersion,
		Severity: severityProto(f.Severity), Status: statusProto(f.Status()),
		ShipmentRef: f.ShipmentRef, Subject: f.Subject, Countries: slices.Clone(f.Countries), Cas: f.CAS,
		RaisedTime: timestamppb.New(f.RaisedAt), Explanation: f.Explanation, Evidence: slices.Clone(f.Evidence),
		Joins: f.Joins,
	}
	for _, t := range f.Thresholds {
		out.Thresholds = append(out.Thresholds, &chemledgerv1.Threshold{Name: t.Name, Value: t.Value})
	}
	for _, h := range f.History {
		out.StatusHistory = append(out.StatusHistory, &chemledgerv1.StatusChange{
			Status: statusProto(h.Status), Note: h.Note, Member: h.Member, Index: h.Index, Time: timestamppb.New(h.Time),
		})
	}
	return out
}

func severityProto(s detect.Severity) chemledgerv1.Severity {
	switch s {
	case detect.SeverityInfo:
		return chemledgerv1.Severity_SEVERITY_INFO
	case detect.SeverityMedium:
		return chemledgerv1.Severity_SEVERITY_MEDIUM
	case detect.SeverityHigh:
		return chemledgerv1.Severity_SEVERITY_HIGH
	case detect.SeverityCritical:
		return chemledgerv1.Severity_SEVERITY_CRITICAL
	}
	return chemledgerv1.Severity_SEVERITY_UNSPECIFIED
}

func statusProto(s string) chemledgerv1.FlagStatus {
	switch s {
	case derive.StatusOpen:
		return chemledgerv1.FlagStatus_FLAG_STATUS_OPEN
	case derive.StatusConfirmed:
		return chemledgerv1.FlagStatus_FLAG_STATUS_CONFIRMED
	case derive.StatusDismissed:
		return chemledgerv1.FlagStatus_FLAG_STATUS_DISMISSED
	case derive.StatusEscalated:
		return chemledgerv1.FlagStatus_FLAG_STATUS_ESCALATED
	}
	return chemledgerv1.FlagStatus_FLAG_STATUS_UNSPECIFIED
}

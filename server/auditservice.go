package server

import (
	"context"
	"log/slog"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/audit"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// auditService serves the audit trail to auditors, who verify its chain
// themselves (audit.Verify, `chemledger audit verify`).
type auditService struct {
	chemledgerv1.UnimplementedAuditServiceServer
	store *audit.Store
	log   *slog.Logger
}

func (s *auditService) ListAuditRecords(ctx context.Context, req *chemledgerv1.ListAuditRecordsRequest) (*chemledgerv1.ListAuditRecordsResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	recs, total, err := s.store.List(req.GetStartSeq(), size)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	resp := &chemledgerv1.ListAuditRecordsResponse{Total: total}
	for _, r := range recs {
		resp.Records = append(resp.Records, AuditRecordProto(r))
	}
	return resp, nil
}

// AuditRecordProto is the API form of a record.
func AuditRecordProto(r audit.Record) *chemledgerv1.AuditRecord {
	return &chemledgerv1.AuditRecord{
		Seq: r.Seq, Time: timestamppb.New(r.Time), Principal: r.Principal, Via: r.Via, Method: r.Method,
		Resources: r.Resources, Outcome: r.Outcome, Prev: r.Prev, Hash: r.Hash,
	}
}

// AuditRecordFromProto is the record an auditor re-hashes.
func AuditRecordFromProto(p *chemledgerv1.AuditRecord) audit.Record {
	return audit.Record{
		Seq: p.GetSeq(), Time: p.GetTime().AsTime(), Principal: p.GetPrincipal(), Via: p.GetVia(), Method: p.GetMethod(),
		Resources: p.GetResources(), Outcome: p.GetOutcome(), Prev: p.GetPrev(), Hash: p.GetHash(),
	}
}

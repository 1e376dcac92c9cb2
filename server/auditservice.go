package server

import (
	"context"
	"log/slog"

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
		resp.Records = append(resp.Records, r.Proto())
	}
	return resp, nil
}

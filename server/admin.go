package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/internal/badinput"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// adminService implements chemledger.v1.AdminService.
type adminService struct {
	chemledgerv1.UnsafeAdminServiceServer

	deriver *derive.Deriver
	log     *slog.Logger
	// backup, origin and verifierKey serve Backup; without a source it
	// is refused.
	backup              BackupSource
	origin, verifierKey string
}

// NewAdminService returns the gRPC implementation of the operator's API.
func NewAdminService(d *derive.Deriver, log *slog.Logger) chemledgerv1.AdminServiceServer {
	return &adminService{deriver: d, log: log}
}

func (s *adminService) RebuildDerivedState(ctx context.Context, req *chemledgerv1.RebuildDerivedStateRequest) (*chemledgerv1.RebuildDerivedStateResponse, error) {
	var asOf time.Time
	if req.GetAsOf() != nil {
		// An invalid timestamp would sweep the time-based rules at
		// whatever time it happens to convert to.
		if err := req.GetAsOf().CheckValid(); err != nil {
			return nil, toStatus(s.log, badinput.New("as_of", "is not a valid time: %v", err))
		}
		asOf = req.GetAsOf().AsTime()
	}
	start := time.Now()
	if err := s.deriver.Rebuild(asOf); err != nil {
		return nil, toStatus(s.log, err)
	}
	took := time.Since(start)
	s.log.Info("derived state rebuilt", "applied", s.deriver.Applied(), "took", took)
	return &chemledgerv1.RebuildDerivedStateResponse{
		Applied: s.deriver.Applied(), Flags: uint64(len(s.deriver.Snapshot())),
		PolicyVersion: s.deriver.PolicyVersion(), Took: durationpb.New(took),
	}, nil
}

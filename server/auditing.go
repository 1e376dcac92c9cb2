package server

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/authz"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// writeMethods change the log; they are accounted for by the log itself,
// so only their refusals are audited. Every other call is a read.
var writeMethods = map[string]bool{
	"/chemledger.v1.LedgerService/CreateEntry":                       true,
	"/chemledger.v1.LedgerService/BulkCreateEntries":                 true,
	"/chemledger.v1.AnalystService/CreateDisposition":                true,
	"/chemledger.v1.AdminService/RebuildDerivedState":                true,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true, // not a read of records
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// auditTimeout bounds an audit write: a read waits for its record, and a
// stuck audit store must fail reads, not hang them.
const auditTimeout = 5 * time.Second

// audit records a read, or a refusal of anything (any answer but OK), before the answer goes
// out. If the record cannot be written, a read fails closed: its answer is
// replaced by UNAVAILABLE. A refused write stays refused either way. A
// refusal like one recorded less than RefusalWindow ago is only counted,
// into one record for the window (see refusals).
func (s *Server) audit(ctx context.Context, p authz.Principal, via, method string, req any, callErr error) error {
	if s.auditLog == nil {
		return nil
	}
	c := status.Code(callErr)
	// Every answer but OK refuses the request: denied, rate-limited, bad
	// input, a conflict, the ledger unable to write.
	refused := c != codes.OK
	if writeMethods[method] && !refused {
		return nil
	}
	rec := audit.Record{Time: time.Now().UTC(), Principal: principalName(p), Via: via, Method: method, Resources: resourcesOf(req), Outcome: codeName(c)}
	if refused && s.refusals != nil && !s.refusals.record(rec) {
		return nil // counted, into a record written when its window closes
	}
	err := s.writeAudit(ctx, rec)
	if err != nil && writeMethods[method] {
		return nil // a refused write stays refused
	}
	return err
}

// writeAudit makes rec durable, or logs why not and returns the error a
// read fails closed with. A caller gone away does not stop the record.
func (s *Server) writeAudit(ctx context.Context, rec audit.Record) error {
	rec.Time = time.Now().UTC()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	start := time.Now()
	_, err := s.auditLog.Append(ctx, rec)
	s.metrics.auditWritten(time.Since(start), err)
	if err != nil {
		s.cfg.Logger.Error("audit record not written", "method", rec.Method, "principal", rec.Principal, "err", err)
		return auditUnavailable()
	}
	return nil
}

func auditUnavailable() error {
	return withDetails(codes.Unavailable, "the audit trail could not record this read, so it is refused", ReasonAuditFailed, nil)
}

// principalName is who the record says asked: "" when nobody could be
// told; the member alone when the certificate names no role, or a role the
// member does not hold.
func principalName(p authz.Principal) string {
	switch {
	case p.Member == "" && !p.Insecure:
		return ""
	case len(p.Roles) == 0 && !p.Insecure:
		return p.Member
	}
	return p.String()
}

// codeName is a gRPC code as the protos spell it: PERMISSION_DENIED.
func codeName(c codes.Code) string { return code.Code(c).String() }

// resourcesOf names the records a request asks for, as the HTTP paths
// would.
func resourcesOf(req any) []string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	// q is path with the parameters that are set, as written (a filter
	// is easier to read in an audit record unescaped).
	q := func(path string, kv ...string) []string {
		sep := "?"
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				path += sep + kv[i] + "=" + kv[i+1]
				sep = "&"
			}
		}
		return []string{path}
	}
	switch r := req.(type) {
	case *chemledgerv1.GetEntryRequest:
		return []string{"entries/" + u(r.GetIndex())}
	case *chemledgerv1.ListEntriesRequest:
		return q("entries", "filter", r.GetFilter(), "page_token", r.GetPageToken())
	case *chemledgerv1.WatchEntriesRequest:
		return q("entries:watch", "filter", r.GetFilter(), "start_index", u(r.GetStartIndex()))
	case *chemledgerv1.GetInclusionProofRequest:
		return []string{fmt.Sprintf("entries/%d/inclusion-proof?tree_size=%d", r.GetIndex(), r.GetTreeSize())}
	case *chemledgerv1.GetConsistencyProofRequest:
		return []string{fmt.Sprintf("consistency-proof?first=%d&second=%d", r.GetFirst(), r.GetSecond())}
	case *chemledgerv1.ListWebhooksRequest:
		return []string{"webhooks"}
	case *chemledgerv1.GetCheckpointRequest:
		return []string{"checkpoint"}
	case *chemledgerv1.GetLogRequest:
		return []string{"log"}
	case *chemledgerv1.ListFlagsRequest:
		return q("flags", "filter", r.GetFilter(), "order_by", r.GetOrderBy(), "page_token", r.GetPageToken())
	case *chemledgerv1.WatchFlagsRequest:
		return q("flags:watch", "filter", r.GetFilter(), "cursor", u(r.GetCursor()))
	case *chemledgerv1.GetFlagRequest:
		return []string{"flags/" + r.GetId()}
	case *chemledgerv1.GetShipmentRequest:
		return []string{"shipments/" + r.GetRef()}
	case *chemledgerv1.GetStatsRequest:
		return q("stats", "filter", r.GetFilter())
	case *chemledgerv1.ListRulesRequest:
		return []string{"rules"}
	case *chemledgerv1.GetReferenceRequest:
		if t := r.GetAsOf(); t != nil {
			return []string{"reference?as_of=" + t.AsTime().UTC().Format(time.RFC3339Nano)}
		}
		return []string{"reference"}
	case *chemledgerv1.ListAuditRecordsRequest:
		return []string{"audit-records?start_seq=" + u(r.GetStartSeq())}
	case *chemledgerv1.CreateEntryRequest:
		return []string{"entries?submission_id=" + r.GetSubmissionId()}
	case *chemledgerv1.CreateDispositionRequest:
		return []string{"flags/" + r.GetId() + ":disposition"}
	}
	return nil
}

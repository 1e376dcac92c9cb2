package audit

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Proto is the API form of a record (AuditService.ListAuditRecords).
func (r Record) Proto() *chemledgerv1.AuditRecord {
	p := &chemledgerv1.AuditRecord{
		Seq: r.Seq, Time: timestamppb.New(r.Time), Principal: r.Principal, Via: r.Via, Method: r.Method,
		Resources: r.Resources, Outcome: r.Outcome, Prev: r.Prev, Hash: r.Hash, Count: r.Count,
	}
	if r.Count > 0 {
		p.LastTime = timestamppb.New(r.Last)
	}
	return p
}

// FromProto is the record an auditor re-hashes from the API's form.
func FromProto(p *chemledgerv1.AuditRecord) Record {
	r := Record{
		Seq: p.GetSeq(), Time: p.GetTime().AsTime(), Principal: p.GetPrincipal(), Via: p.GetVia(), Method: p.GetMethod(),
		Resources: p.GetResources(), Outcome: p.GetOutcome(), Prev: p.GetPrev(), Hash: p.GetHash(), Count: p.GetCount(),
	}
	// An unset timestamp reads as 1970, not as the zero time a record of
	// one request has.
	if p.GetLastTime() != nil {
		r.Last = p.GetLastTime().AsTime()
	}
	return r
}

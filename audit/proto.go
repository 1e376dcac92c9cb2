package audit

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Proto is the API form of a record (AuditService.ListAuditRecords).
func (r Record) Proto() *chemledgerv1.AuditRecord {
	return &chemledgerv1.AuditRecord{
		Seq: r.Seq, Time: timestamppb.New(r.Time), Principal: r.Principal, Via: r.Via, Method: r.Method,
		Resources: r.Resources, Outcome: r.Outcome, Prev: r.Prev, Hash: r.Hash,
	}
}

// FromProto is the record an auditor re-hashes from the API's form.
func FromProto(p *chemledgerv1.AuditRecord) Record {
	return Record{
		Seq: p.GetSeq(), Time: p.GetTime().AsTime(), Principal: p.GetPrincipal(), Via: p.GetVia(), Method: p.GetMethod(),
		Resources: p.GetResources(), Outcome: p.GetOutcome(), Prev: p.GetPrev(), Hash: p.GetHash(),
	}
}

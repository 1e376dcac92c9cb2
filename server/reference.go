package server

import (
	"context"
	"time"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/badinput"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// GetReference serves the reference data the detector judges by on a date.
// It is public reference data: every role may read it.
func (s *analystService) GetReference(ctx context.Context, req *chemledgerv1.GetReferenceRequest) (*chemledgerv1.Reference, error) {
	asOf := time.Now().UTC()
	if t := req.GetAsOf(); t != nil {
		if err := t.CheckValid(); err != nil {
			var l badinput.List
			l.Add("as_of", "is not a valid timestamp")
			return nil, toStatus(s.log, l.Err())
		}
		asOf = t.AsTime().UTC()
	}
	ref, asOf, err := s.deriver.Reference(asOf)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	out := &chemledgerv1.Reference{AsOf: timestamppb.New(asOf), PolicyVersion: s.deriver.PolicyVersion()}
	for _, p := range ref.PENRequirements {
		out.PenRequirements = append(out.PenRequirements, &chemledgerv1.PenRequirementValue{Country: p.Country, Cas: p.CAS, Source: referenceSourceProto(p.Source)})
	}
	for _, set := range ref.SynthesisSets {
		v := &chemledgerv1.SynthesisSetValue{Id: set.ID, Name: set.Name, Source: referenceSourceProto(set.Source)}
		for _, st := range set.Steps {
			v.Steps = append(v.Steps, &chemledgerv1.ReferenceUpdate_Step{Cas: st})
		}
		out.SynthesisSets = append(out.SynthesisSets, v)
	}
	for _, t := range ref.ReportingThresholds {
		out.ReportingThresholds = append(out.ReportingThresholds, &chemledgerv1.ReportingThresholdValue{Cas: t.CAS, Kilograms: t.KG, Source: referenceSourceProto(t.Source)})
	}
	for _, r := range ref.LicenceRegisters {
		out.LicenceRegisters = append(out.LicenceRegisters, &chemledgerv1.LicenceRegisterValue{Country: r.Country, Complete: r.Complete, Source: referenceSourceProto(r.Source)})
	}
	return out, nil
}

func referenceSourceProto(src detect.ReferenceSource) *chemledgerv1.ReferenceSource {
	v := src.Entry
	if v == nil {
		return &chemledgerv1.ReferenceSource{Embedded: true, Table: src.Table}
	}
	out := &chemledgerv1.ReferenceSource{EntryIndex: v.Index, Member: v.Member}
	if !v.From.IsZero() {
		out.ValidFrom = timestamppb.New(v.From)
	}
	if !v.Until.IsZero() {
		out.ValidUntil = timestamppb.New(v.Until)
	}
	return out
}

package server

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/scorecard"
)

// scorecardService implements chemledger.v1.ScorecardService. The card is
// computed from the log at the latest checkpoint (package scorecard folds
// the prefix itself, so the figures depend on nothing but the prefix) and
// kept until the next checkpoint.
type scorecardService struct {
	chemledgerv1.UnsafeScorecardServiceServer

	ledger  *ledger.Ledger
	members *members.Registry
	policy  detect.Policy
	log     *slog.Logger

	mu     sync.Mutex
	cached *scorecard.Computed
}

// NewScorecardService returns the gRPC implementation of the scorecard API.
func NewScorecardService(l *ledger.Ledger, reg *members.Registry, policy detect.Policy, log *slog.Logger) chemledgerv1.ScorecardServiceServer {
	return &scorecardService{ledger: l, members: reg, policy: policy, log: log}
}

func (s *scorecardService) current(ctx context.Context) (*scorecard.Computed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, _ := s.ledger.Checkpoint()
	if s.cached != nil && s.cached.Card.Checkpoint.Size == cp.Size {
		return s.cached, nil
	}
	c, err := scorecard.FromLedger(ctx, s.ledger, ScorecardMembers(s.members), s.policy)
	if err != nil {
		return nil, err
	}
	s.cached = c
	return c, nil
}

// ScorecardMembers are the registry's members as the scorecard counts them.
func ScorecardMembers(reg *members.Registry) []scorecard.Member {
	if reg == nil {
		return nil
	}
	var out []scorecard.Member
	for _, m := range reg.Members() {
		out = append(out, scorecard.Member{ID: m.ID, Country: m.Country})
	}
	slices.SortFunc(out, func(a, b scorecard.Member) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

func (s *scorecardService) GetScorecard(ctx context.Context, req *chemledgerv1.GetScorecardRequest) (*chemledgerv1.Scorecard, error) {
	p, err := scorecard.ParsePeriod(req.GetPeriod())
	if err != nil {
		return nil, toStatus(s.log, badinput.New("period", "%v", err))
	}
	if m := req.GetMember(); m != "" && s.members != nil {
		if _, ok := s.members.Member(m); !ok {
			return nil, toStatus(s.log, badinput.New("member", "no member %q in the registry", m))
		}
	}
	c, err := s.current(ctx)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	card := c.Card.Select(p, req.GetMember())
	out := &chemledgerv1.Scorecard{Period: p.Name, Checkpoint: string(c.Note), TreeSize: card.Checkpoint.Size, AsOf: timestamppb.New(card.AsOf)}
	for _, d := range card.Definitions {
		out.Definitions = append(out.Definitions, &chemledgerv1.IndicatorDefinition{Id: d.ID, Title: d.Title, Unit: d.Unit, Definition: d.Words})
	}
	for _, r := range card.Rows {
		row := &chemledgerv1.ScorecardRow{Member: r.Member, Month: r.Month}
		for _, f := range r.Figures {
			row.Figures = append(row.Figures, figureProto(f))
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

func figureProto(f scorecard.Figure) *chemledgerv1.ScorecardFigure {
	return &chemledgerv1.ScorecardFigure{Indicator: f.ID, Value: f.Value, Defined: f.Defined, Numerator: f.Numerator,
		Denominator: f.Denominator, EntryCount: uint64(len(f.Entries)), FlagCount: uint64(len(f.Flags))}
}

func (s *scorecardService) ListScorecardEntries(ctx context.Context, req *chemledgerv1.ListScorecardEntriesRequest) (*chemledgerv1.ScorecardEntries, error) {
	if _, err := scorecard.ParsePeriod(req.GetMonth()); err != nil || len(req.GetMonth()) != 7 {
		return nil, toStatus(s.log, badinput.New("month", "want YYYY-MM, got %q", req.GetMonth()))
	}
	c, err := s.current(ctx)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	f, ok := c.Card.Figure(req.GetMember(), req.GetMonth(), req.GetIndicator())
	if !ok {
		return nil, toStatus(s.log, badinput.New("indicator", "no figure %q for member %q in %s", req.GetIndicator(), req.GetMember(), req.GetMonth()))
	}
	out := &chemledgerv1.ScorecardEntries{Checkpoint: string(c.Note), Figure: figureProto(f), FlagIds: f.Flags}
	for _, i := range f.Entries {
		e, err := s.ledger.Entry(ctx, i)
		if err != nil {
			return nil, toStatus(s.log, err)
		}
		out.Entries = append(out.Entries, &chemledgerv1.ScorecardEntry{Index: i, LeafHash: e.LeafHash, Member: e.Meta.Member})
	}
	return out, nil
}

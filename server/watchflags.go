package server

import (
	"cmp"
	"slices"
	"time"

	"github.com/chemledger/chemledger/derive"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// flagPoll is how often an idle flag watch looks at the detector's
// position: the detector publishes no wake-up, and a poll of one counter
// costs nothing next to the commit it waits for.
const flagPoll = 25 * time.Millisecond

// WatchFlags follows the detector (derive.Deriver.Applied): each round it
// delivers the flags, matching the filter, whose latest change (Flag.Seq)
// lies between the cursor and the detector's position, in seq order, and
// moves the cursor to that position. A flag changed several times while
// the watch was behind comes once, as it stands.
func (s *analystService) WatchFlags(req *chemledgerv1.WatchFlagsRequest, stream chemledgerv1.AnalystService_WatchFlagsServer) error {
	ctx := stream.Context()
	interval, err := progressInterval(req.GetProgressIntervalMs())
	if err != nil {
		return toStatus(s.log, err)
	}
	// The filter is checked before the stream opens.
	if err := s.deriver.Each(req.GetFilter(), func(*derive.Flag) {}); err != nil {
		return toStatus(s.log, err)
	}
	a := accessOf(ctx)
	if a.open != nil {
		if err := a.open(req); err != nil {
			return err
		}
	}
	cursor := req.GetCursor()
	progressed := false
	lastSent := time.Now()
	tick := time.NewTicker(flagPoll)
	defer tick.Stop()
	for {
		if a.recheck != nil {
			if err := a.recheck(); err != nil {
				return err
			}
		}
		if applied := s.deriver.Applied(); applied > cursor {
			var changed []*chemledgerv1.FlagChange
			err := s.deriver.Each(req.GetFilter(), func(f *derive.Flag) {
				if f.Seq > cursor && f.Seq <= applied {
					changed = append(changed, flagChange(f))
				}
			})
			if err != nil {
				return toStatus(s.log, err)
			}
			slices.SortFunc(changed, func(x, y *chemledgerv1.FlagChange) int {
				return cmp.Or(cmp.Compare(x.GetSeq(), y.GetSeq()), cmp.Compare(x.GetFlag().GetId(), y.GetFlag().GetId()))
			})
			for len(changed) > 0 {
				// A message ends between two seqs, never inside one, so
				// that its cursor is a place to resume from.
				n := min(len(changed), watchBatch)
				for n < len(changed) && changed[n].GetSeq() == changed[n-1].GetSeq() {
					n++
				}
				resp := &chemledgerv1.WatchFlagsResponse{Changes: changed[:n], Cursor: changed[n-1].GetSeq()}
				if n == len(changed) {
					resp.Cursor = applied
				}
				if err := stream.Send(resp); err != nil {
					return err
				}
				changed, lastSent = changed[n:], time.Now()
			}
			cursor = applied
		}
		if !progressed || time.Since(lastSent) >= interval {
			if err := stream.Send(&chemledgerv1.WatchFlagsResponse{Cursor: cursor, Progress: true}); err != nil {
				return err
			}
			progressed, lastSent = true, time.Now()
		}
		select {
		case <-ctx.Done():
			return toStatus(s.log, ctx.Err())
		case <-tick.C:
		}
	}
}

func flagChange(f *derive.Flag) *chemledgerv1.FlagChange {
	kind := chemledgerv1.FlagChangeKind_FLAG_CHANGE_KIND_RAISED
	if n := len(f.History); n > 0 && f.History[n-1].Index+1 == f.Seq {
		kind = chemledgerv1.FlagChangeKind_FLAG_CHANGE_KIND_STATUS_CHANGED
	}
	return &chemledgerv1.FlagChange{Kind: kind, Flag: flagProto(f), Seq: f.Seq}
}

package client

import (
	"context"
	"fmt"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Scorecard returns the scorecard of period ("2026-Q3", "2026-07",
// "2026") for member ("" for all), after checking that the checkpoint it
// names is signed by the log and is the size the card says.
func (c *Client) Scorecard(ctx context.Context, period, member string) (*chemledgerv1.Scorecard, checkpoint.Checkpoint, error) {
	sc, err := chemledgerv1.NewScorecardServiceClient(c.conn).GetScorecard(ctx, &chemledgerv1.GetScorecardRequest{Period: period, Member: member})
	if err != nil {
		return nil, checkpoint.Checkpoint{}, fmt.Errorf("get scorecard: %w", err)
	}
	cp, err := c.openNote(ctx, sc.GetCheckpoint())
	if err != nil {
		return nil, checkpoint.Checkpoint{}, err
	}
	if cp.Size != sc.GetTreeSize() {
		return nil, checkpoint.Checkpoint{}, fmt.Errorf("%w: the scorecard says tree size %d, its checkpoint %d", ErrVerification, sc.GetTreeSize(), cp.Size)
	}
	return sc, cp, nil
}

// ScorecardEntries returns what one figure counts, its checkpoint checked.
func (c *Client) ScorecardEntries(ctx context.Context, member, month, indicator string) (*chemledgerv1.ScorecardEntries, checkpoint.Checkpoint, error) {
	r, err := chemledgerv1.NewScorecardServiceClient(c.conn).ListScorecardEntries(ctx, &chemledgerv1.ListScorecardEntriesRequest{Member: member, Month: month, Indicator: indicator})
	if err != nil {
		return nil, checkpoint.Checkpoint{}, fmt.Errorf("list scorecard entries: %w", err)
	}
	cp, err := c.openNote(ctx, r.GetCheckpoint())
	return r, cp, err
}

func (c *Client) openNote(ctx context.Context, text string) (checkpoint.Checkpoint, error) {
	v, err := c.logVerifier(ctx)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	cp, err := checkpoint.Open([]byte(text), v.Name(), v)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: %w", ErrVerification, err)
	}
	return cp, nil
}

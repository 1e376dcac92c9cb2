package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func newScorecardCmd(a *app) *cobra.Command {
	var (
		period, member, month, indicator string
		asJSON                           bool
	)
	cmd := &cobra.Command{
		Use:   "scorecard",
		Short: "The coalition's indicators per member and month, computed at a signed checkpoint",
		Long: `Scorecard prints the indicators of --period (YYYY, YYYY-Qn or YYYY-MM) for
--member (default every member), computed from the log at the checkpoint it
names; the checkpoint's signature is checked before anything is printed.
Each figure says how many entries it counts. With --month and --indicator
it drills down to those entries (index, leaf hash, signer), which a member
can recount from its own copy of the log. An analyst's or auditor's call.`,
		Example: `  chemledger scorecard --period 2026-Q3 --member MX-ANAM
  chemledger scorecard --member MX-ANAM --month 2026-07 --indicator pen_answered_on_time`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				w := cmd.OutOrStdout()
				if indicator != "" || month != "" {
					if indicator == "" || month == "" || member == "" {
						return fmt.Errorf("a drill-down needs --member, --month and --indicator")
					}
					r, cp, err := c.ScorecardEntries(ctx, member, month, indicator)
					if err != nil {
						return err
					}
					if asJSON {
						return printJSON(w, r)
					}
					fmt.Fprintf(w, "%s %s %s = %s at checkpoint %d\n", member, month, indicator, figureText(r.GetFigure()), cp.Size)
					tw := newTable(w)
					fmt.Fprintf(tw, "index\tleaf hash\tsigner\n")
					for _, e := range r.GetEntries() {
						fmt.Fprintf(tw, "%d\t%x\t%s\n", e.GetIndex(), e.GetLeafHash(), e.GetMember())
					}
					for _, id := range r.GetFlagIds() {
						fmt.Fprintf(tw, "flag\t%s\t\n", id)
					}
					return tw.Flush()
				}
				sc, cp, err := c.Scorecard(ctx, period, member)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(w, sc)
				}
				return printScorecard(w, sc, cp.Size)
			})
		},
	}
	cmd.Flags().StringVar(&period, "period", "", "YYYY, YYYY-Qn or YYYY-MM")
	cmd.Flags().StringVar(&member, "member", "", "one member's figures (default: every member)")
	cmd.Flags().StringVar(&month, "month", "", "drill down: the month (YYYY-MM) of the figure")
	cmd.Flags().StringVar(&indicator, "indicator", "", "drill down: the indicator id of the figure")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print proto3 JSON")
	return cmd
}

func figureText(f *chemledgerv1.ScorecardFigure) string {
	if !f.GetDefined() {
		return "n/a"
	}
	return strconv.FormatFloat(f.GetValue(), 'f', 3, 64)
}

func printScorecard(w io.Writer, sc *chemledgerv1.Scorecard, size uint64) error {
	fmt.Fprintf(w, "scorecard %s at checkpoint %d (as of %s)\n", sc.GetPeriod(), size, sc.GetAsOf().AsTime().Format("2006-01-02 15:04Z"))
	for _, r := range sc.GetRows() {
		fmt.Fprintf(w, "\n%s %s\n", r.GetMember(), r.GetMonth())
		tw := newTable(w)
		for _, f := range r.GetFigures() {
			fmt.Fprintf(tw, "  %s\t%s\t(%g / %g)\t%d entries\t%d flags\n", f.GetIndicator(), figureText(f), f.GetNumerator(), f.GetDenominator(), f.GetEntryCount(), f.GetFlagCount())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

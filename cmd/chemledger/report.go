package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/report"
	"github.com/chemledger/chemledger/scorecard"
)

func newReportCmd(a *app) *cobra.Command {
	var period, out string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render the periodic review (PDF or HTML) from the scorecard at a checked checkpoint",
		Long: `Report renders the coalition's review of --period (YYYY, YYYY-Qn or YYYY-MM)
to --out, as PDF or HTML by its extension: a cover with the period, the
checkpoint as signed and the digest of the report's inputs and figures; a
page per indicator charting every member from January to the period's end
with the coalition median; a table per member; the methodology. The
checkpoint's signature is checked first. Pointed at its own node or mirror,
any member gets the same digest and the same bytes.`,
		Example: `  chemledger report --period 2026-Q3 --out review.pdf
  chemledger report --period 2026-Q3 --out review.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := scorecard.ParsePeriod(period)
			if err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("--out is required (.pdf or .html)")
			}
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				sc, cp, err := c.Scorecard(ctx, p.Name[:4], "")
				if err != nil {
					return err
				}
				rules, err := c.Rules(ctx)
				if err != nil {
					return err
				}
				card := cardOf(sc, cp.Origin, base64.StdEncoding.EncodeToString(cp.Root))
				r := &report.Review{Period: p, Checkpoint: sc.GetCheckpoint(), Card: card.Select(p.YearToDate(), ""), PolicyVersion: rules.GetPolicyVersion()}
				b, err := r.Bytes(filepath.Ext(out))
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, b, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "review %s at checkpoint %d: digest %s, written to %s\n", p.Name, cp.Size, r.Digest(), out)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&period, "period", "", "YYYY, YYYY-Qn or YYYY-MM")
	cmd.Flags().StringVar(&out, "out", "", "the file to write: .pdf or .html")
	return cmd
}

// cardOf turns the API's scorecard back into the scorecard package's card
// (without the drill-down lists, which GetScorecard carries as counts).
func cardOf(sc *chemledgerv1.Scorecard, origin, root string) *scorecard.Card {
	c := &scorecard.Card{Checkpoint: scorecard.Checkpoint{Origin: origin, Size: sc.GetTreeSize(), RootHash: root}, AsOf: sc.GetAsOf().AsTime().UTC()}
	for _, d := range sc.GetDefinitions() {
		c.Definitions = append(c.Definitions, scorecard.Definition{ID: d.GetId(), Title: d.GetTitle(), Unit: d.GetUnit(), Words: d.GetDefinition()})
	}
	for _, r := range sc.GetRows() {
		row := scorecard.Row{Member: r.GetMember(), Month: r.GetMonth()}
		for _, f := range r.GetFigures() {
			row.Figures = append(row.Figures, scorecard.Figure{ID: f.GetIndicator(), Value: f.GetValue(), Defined: f.GetDefined(),
				Numerator: f.GetNumerator(), Denominator: f.GetDenominator(), EntryCount: int(f.GetEntryCount()), FlagCount: int(f.GetFlagCount())})
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

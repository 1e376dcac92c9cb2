package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func newStatsCmd(a *app) *cobra.Command {
	var (
		filter string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count flags by rule, country, chemical and month",
		Long: `Stats counts the flags that match --filter (as in "flags list"): in all, by
rule, by country involved (a flag counts once for each of its countries), by
chemical (CAS number) and by the month it was raised. With --json it prints
the chemledger.v1.Stats in proto3 JSON.`,
		Example: `  chemledger stats --filter 'status = OPEN'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				st, err := c.Stats(ctx, filter)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), st)
				}
				return printStats(cmd.OutOrStdout(), st)
			})
		},
	}
	cmd.Flags().StringVar(&filter, "filter", "", "AIP-160 filter on rule_id, severity, status, country, cas, shipment_ref (=) and raised_time (<, <=, >, >=)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as proto3 JSON")
	return cmd
}

func printStats(w io.Writer, st *chemledgerv1.Stats) error {
	fmt.Fprintf(w, "total %d flags\n", st.GetTotal())
	for _, g := range []struct {
		name   string
		counts []*chemledgerv1.Count
	}{
		{"by rule", st.GetByRule()},
		{"by country", st.GetByCountry()},
		{"by chemical", st.GetByChemical()},
		{"by month", st.GetByMonth()},
	} {
		if len(g.counts) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", g.name)
		tw := newTable(w)
		for _, c := range g.counts {
			fmt.Fprintf(tw, "  %s\t%d\n", c.GetKey(), c.GetCount())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"context"
	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func newFlagsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flags",
		Short: "List, show and dispose of the flags the detector raised",
		Long: `Flags are the detection engine's findings: each names the rule that fired, the
thresholds it used, an explanation with the figures, and the log entries it
rests on. "flags show" verifies that each of those entries is in the log's
signed tree; "flags dispose" records an analyst's decision as a signed log
entry.`,
	}
	cmd.AddCommand(newFlagsListCmd(a), newFlagsShowCmd(a), newFlagsDisposeCmd(a))
	return cmd
}

func newFlagsListCmd(a *app) *cobra.Command {
	var (
		filter, orderBy string
		limit           int
		asJSON          bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List flags, most severe first (or newest first), as a table",
		Long: `List prints the flags that match --filter as a table: severity, rule, flag
id, shipment, status and the start of the explanation ("flags show ID" has
all of it), most severe first, so what needs attention is at the top;
--order-by "raised_time desc" puts the newest first instead. With --json it
prints one chemledger.v1.Flag in proto3 JSON per line instead.`,
		Example: `  chemledger flags list --filter 'rule_id = "R1"'
  chemledger flags list --filter 'status = OPEN AND country = "MX"' --limit 10
  chemledger flags list --order-by "raised_time desc"
  chemledger flags list --filter 'severity = CRITICAL AND raised_time >= "2026-03-01T00:00:00Z"' --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				var pageSize int32
				if limit > 0 && limit <= 1000 {
					pageSize = int32(limit)
				}
				var flags []*chemledgerv1.Flag
				n := 0
				for f, err := range c.Flags(ctx, filter, orderBy, pageSize) {
					if err != nil {
						return err
					}
					if asJSON {
						if err := printJSON(cmd.OutOrStdout(), f); err != nil {
							return err
						}
					} else {
						flags = append(flags, f)
					}
					if n++; limit > 0 && n == limit {
						break
					}
				}
				if asJSON {
					return nil
				}
				return printFlagTable(cmd.OutOrStdout(), flags)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", "AIP-160 filter on rule_id, severity, status, country, cas, shipment_ref (=) and raised_time (<, <=, >, >=)")
	f.StringVar(&orderBy, "order-by", "severity desc", `"severity desc" (most severe first) or "raised_time desc" (newest first)`)
	f.IntVar(&limit, "limit", 0, "print at most this many flags (0: all)")
	f.BoolVar(&asJSON, "json", false, "print one proto3 JSON object per line instead of a table")
	return cmd
}

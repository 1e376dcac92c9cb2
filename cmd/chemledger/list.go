package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newListCmd(a *app) *cobra.Command {
	var (
		filter   string
		pageSize int32
		limit    int
		output   = outputText
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print entries in log order, as a table of what each says",
		Long: `List prints the entries that match --filter in log order, one a line: what
the decoded event says first (kind, shipment, chemical, quantity, route from
exporter to importer country, when it happened), then its index, member and
integration time ("get INDEX" has all of it). With --output json it prints
one chemledger.v1.Entry in proto3 JSON per line instead, envelope in base64.`,
		Example: `  chemledger list --filter 'shipment_ref = "PEN-US-2026-000123" AND kind = EXPORT_DECLARATION'
  chemledger list --filter 'member = "MX-ANAM" AND integrated_time >= "2026-01-01T00:00:00Z"' --limit 10
  chemledger list --output json | jq .event.quantity`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				w := cmd.OutOrStdout()
				tw := newTable(w)
				if output == outputText {
					fmt.Fprintln(tw, entryHeader)
				}
				n := 0
				for e, err := range c.List(ctx, filter, pageSize) {
					if err != nil {
						tw.Flush()
						return err
					}
					if output == outputJSON {
						if err := printJSON(w, e); err != nil {
							return err
						}
					} else {
						fmt.Fprintln(tw, entryRow(e))
					}
					if n++; limit > 0 && n == limit {
						break
					}
				}
				if output == outputText {
					return tw.Flush()
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", "AIP-160 filter on shipment_ref, member, cas, kind (=) and integrated_time (<, <=, >, >=)")
	f.Int32Var(&pageSize, "page-size", 0, "entries per request (0: the log's default)")
	f.IntVar(&limit, "limit", 0, "print at most this many entries (0: all)")
	f.StringVarP(&output, "output", "o", outputText, "text (a table for people) or json (one whole entry per line, envelope in base64)")
	return cmd
}

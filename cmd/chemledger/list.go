package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newListCmd(a *app) *cobra.Command {
	var (
		filter   string
		pageSize int32
		limit    int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print entries in log order, one proto3 JSON object per line",
		Example: `  chemledger list --filter 'shipment_ref = "PEN-US-2026-000123" AND kind = EXPORT_DECLARATION'
  chemledger list --filter 'member = "MX-ANAM" AND integrated_time >= "2026-01-01T00:00:00Z"' --limit 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				n := 0
				for e, err := range c.List(ctx, filter, pageSize) {
					if err != nil {
						return err
					}
					b, err := protojson.Marshal(e)
					if err != nil {
						return err
					}
					if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b); err != nil {
						return err
					}
					if n++; limit > 0 && n == limit {
						break
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", "AIP-160 filter on shipment_ref, member, cas, kind (=) and integrated_time (<, <=, >, >=)")
	f.Int32Var(&pageSize, "page-size", 0, "entries per request (0: the log's default)")
	f.IntVar(&limit, "limit", 0, "print at most this many entries (0: all)")
	return cmd
}

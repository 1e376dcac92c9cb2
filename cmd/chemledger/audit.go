package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the audit trail of reads and refusals (auditors)",
	}
	var start uint64
	var limit int32
	list := &cobra.Command{
		Use:   "list",
		Short: "Print audit records as proto3 JSON, one per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAuditor, func(ctx context.Context, c *client.Client) error {
				page, err := c.AuditRecords(ctx, start, limit)
				if err != nil {
					return err
				}
				for _, r := range page.GetRecords() {
					if err := printJSON(cmd.OutOrStdout(), r); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	list.Flags().Uint64Var(&start, "start", 0, "first sequence number")
	list.Flags().Int32Var(&limit, "limit", 100, "most records to print (the service caps a page)")
	var since, out string
	verify := &cobra.Command{
		Use:   "verify [--since KEPT] [--out KEPT]",
		Short: "Read the whole audit trail and check its hash chain",
		Long: `Verify reads every audit record from the first and checks that each record's
hash recomputes from its fields and names the previous record's hash: a
record removed, reordered or edited breaks the chain at that record.

A chain cannot show that its tail was cut off. Keep the last record of each
check (--out FILE) and give it to the next one (--since FILE): the trail
must still hold that record, unchanged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var kept *client.AuditHead
			if since != "" {
				b, err := os.ReadFile(since)
				if err != nil {
					return err
				}
				kept = &client.AuditHead{}
				if err := json.Unmarshal(b, kept); err != nil {
					return fmt.Errorf("%s: %w", since, err)
				}
			}
			return a.withClient(cmd, "", pki.RoleAuditor, func(ctx context.Context, c *client.Client) error {
				n, last, err := c.VerifyAuditTrail(ctx, kept)
				if err != nil {
					return fmt.Errorf("after %d good records: %w", n, err)
				}
				if last == nil {
					fmt.Fprintln(cmd.OutOrStdout(), "the audit trail is empty")
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "audit trail verified: %d records; the last, seq %d, hashes to %s\n", n, last.GetSeq(), hex.EncodeToString(last.GetHash()))
				if out != "" {
					b, _ := json.Marshal(client.AuditHead{Seq: last.GetSeq(), Hash: last.GetHash()})
					if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	verify.Flags().StringVar(&since, "since", "", "a record kept by an earlier check (--out): the trail must still hold it")
	verify.Flags().StringVar(&out, "out", "", "write the last record's sequence number and hash here, for the next --since")
	cmd.AddCommand(list, verify)
	return cmd
}

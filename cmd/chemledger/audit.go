package main

import (
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

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
			ctx, cancel := a.context(cmd)
			defer cancel()
			c, err := a.dial(ctx, cmd.ErrOrStderr(), "", pki.RoleAuditor)
			if err != nil {
				return err
			}
			defer c.Close()
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
		},
	}
	list.Flags().Uint64Var(&start, "start", 0, "first sequence number")
	list.Flags().Int32Var(&limit, "limit", 100, "most records to print (the service caps a page)")
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Read the whole audit trail and check its hash chain",
		Long: `Verify reads every audit record from the first and checks that each record's
hash recomputes from its fields and names the previous record's hash: a
record removed, reordered or edited breaks the chain at that record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := a.context(cmd)
			defer cancel()
			c, err := a.dial(ctx, cmd.ErrOrStderr(), "", pki.RoleAuditor)
			if err != nil {
				return err
			}
			defer c.Close()
			n, last, err := c.VerifyAuditTrail(ctx)
			if err != nil {
				return fmt.Errorf("after %d good records: %w", n, err)
			}
			if last == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "the audit trail is empty")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit trail verified: %d records; the last, seq %d, hashes to %s\n", n, last.GetSeq(), hex.EncodeToString(last.GetHash()))
			return nil
		},
	}
	cmd.AddCommand(list, verify)
	return cmd
}

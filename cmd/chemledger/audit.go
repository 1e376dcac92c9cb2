package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/internal/atomicfile"
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
must still hold that record, unchanged. The same file can be both: the
first time, when it does not exist yet, the trail is checked from its start
("no kept record yet" on stderr) and the file is written.`,
		Example: `  chemledger audit verify --since kept.json --out kept.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kept, err := readKept(since, out)
			if err != nil {
				return err
			}
			if since != "" && kept == nil {
				// Said first, so that it shows even if the check fails.
				fmt.Fprintln(cmd.ErrOrStderr(), "no kept record yet; checked from the start")
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
					// Atomically: with --since and --out the same file, a
					// crash mid-write must not lose the record kept before.
					if err := atomicfile.Write(out, append(b, '\n'), 0o644); err != nil {
						return fmt.Errorf("--out: %w", err)
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

// readKept reads the record an earlier check kept (nil without --since).
// A --since file that does not exist yet is the first check of a rotation
// (--since F --out F): nil, so the trail is checked from its start and this
// run keeps the first record. Without --out it is a mistake (a wrong path
// would silently weaken the check), and an error.
func readKept(since, out string) (*client.AuditHead, error) {
	if since == "" {
		return nil, nil
	}
	b, err := os.ReadFile(since)
	switch {
	case errors.Is(err, fs.ErrNotExist) && out != "":
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("--since %s: no kept record there (give --out as well to check from the start and keep one)", since)
	case err != nil:
		return nil, fmt.Errorf("--since: %w", err)
	}
	kept := &client.AuditHead{}
	if err := json.Unmarshal(b, kept); err != nil {
		return nil, fmt.Errorf("--since %s: %w", since, err)
	}
	return kept, nil
}

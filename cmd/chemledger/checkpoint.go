package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newCheckpointCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the log's latest signed checkpoint, verified",
		Long: `Checkpoint prints the log's latest signed checkpoint note, after checking
its signature. Keep it (--out) to check later with "verify consistency" that
the log has only grown since.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAuditor, func(ctx context.Context, c *client.Client) error {
				_, signed, err := c.Checkpoint(ctx)
				if err != nil {
					return err
				}
				if out != "" {
					if err := os.WriteFile(out, signed, 0o644); err != nil {
						return fmt.Errorf("write checkpoint: %w", err)
					}
				}
				_, err = cmd.OutOrStdout().Write(signed)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "also write the signed checkpoint to this file")
	return cmd
}

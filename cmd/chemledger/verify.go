package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newVerifyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify that an entry is in the log, or that the log only grew",
	}
	cmd.AddCommand(newVerifyInclusionCmd(a), newVerifyConsistencyCmd(a))
	return cmd
}

func newVerifyInclusionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "inclusion INDEX",
		Short: "Prove that the entry at INDEX is in the log's latest signed tree",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			index, err := parseIndex(args[0])
			if err != nil {
				return err
			}
			return a.withClient(cmd, "", pki.RoleAuditor, func(ctx context.Context, c *client.Client) error {
				cp, err := c.VerifyInclusion(ctx, index)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "entry %d is included in the tree of size %d (root %s)\n", index, cp.Size, base64.StdEncoding.EncodeToString(cp.Root))
				return err
			})
		},
	}
}

func newVerifyConsistencyCmd(a *app) *cobra.Command {
	var since string
	cmd := &cobra.Command{
		Use:   "consistency --since CHECKPOINT_FILE",
		Short: "Prove that the log extends a signed checkpoint kept from before",
		Long: `Consistency checks that the log's latest tree extends the one in a kept
checkpoint (as written by "checkpoint --out"). If the log cannot prove it,
it prints both signed checkpoints, the evidence that the log rewrote its
history, and exits non-zero.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kept, err := os.ReadFile(since)
			if err != nil {
				return fmt.Errorf("read kept checkpoint: %w", err)
			}
			return a.withClient(cmd, "", pki.RoleAuditor, func(ctx context.Context, c *client.Client) error {
				latest, _, err := c.VerifyConsistency(ctx, kept)
				var ce *client.ConsistencyError
				if errors.As(err, &ce) {
					// The evidence is the command's output; the error only says
					// that it failed.
					fmt.Fprintln(cmd.OutOrStdout(), ce.Error())
					return errors.New("the log is not consistent with the kept checkpoint")
				}
				if err != nil {
					return err
				}
				// The client has verified the kept note; this only reads its size.
				body, _, _ := bytes.Cut(kept, []byte("\n\n"))
				k, err := checkpoint.Parse(string(body) + "\n")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "the log of size %d extends the kept checkpoint of size %d\n", latest.Size, k.Size)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "file with the signed checkpoint kept from before")
	cmd.MarkFlagRequired("since")
	return cmd
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/members"
)

func newKeygenCmd(a *app) *cobra.Command {
	var member, out string
	cmd := &cobra.Command{
		Use:   "keygen --member ID [--out FILE]",
		Short: "Make a new signing key for a member",
		Long: `Keygen writes a new Ed25519 private key file for a member (readable by its
owner only; default DATA_DIR/keys/ID.json, never overwritten) and prints the
public key as a JSON entry for the member's "keys" in members.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// members.New checks the id the way the log's members file will.
			if _, err := members.New([]members.Member{{ID: member}}); err != nil {
				return err
			}
			if out == "" {
				out = a.layout().MemberKey(member)
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s exists; not replacing a key that may be in use", out)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
				return err
			}
			p, err := members.GenerateKey(member)
			if err != nil {
				return err
			}
			if err := members.WritePrivateKey(out, p); err != nil {
				return fmt.Errorf("write key file: %w", err)
			}
			b, err := json.Marshal(p.Public())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote the private key of %s to %s\n", p.KeyID, out)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return err
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "member id, for example US-CBP (required)")
	cmd.Flags().StringVar(&out, "out", "", "private key file to write (default DATA_DIR/keys/ID.json)")
	cmd.MarkFlagRequired("member")
	return cmd
}

package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newGetCmd(a *app) *cobra.Command {
	output := outputText
	cmd := &cobra.Command{
		Use:   "get INDEX",
		Short: "Print the entry at INDEX: the decoded event first, then where it sits in the log",
		Long: `Get prints the entry at INDEX for a person: its kind and shipment, the decoded
event (or registry entry, or disposition) as indented JSON, then its member,
integration time, submission id, payload type and leaf hash. With --output
json it prints the whole chemledger.v1.Entry in proto3 JSON instead, with
the exact envelope bytes (the Merkle leaf) in base64.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			index, err := parseIndex(args[0])
			if err != nil {
				return err
			}
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				e, err := c.Get(ctx, index)
				if err != nil {
					return err
				}
				if output == outputText {
					return printEntry(cmd.OutOrStdout(), e)
				}
				b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(e)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "text (for people) or json (the whole entry, envelope in base64)")
	return cmd
}

func parseIndex(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("index %q: want a log index, 0 or more", s)
	}
	return n, nil
}

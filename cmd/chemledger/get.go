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
	return &cobra.Command{
		Use:   "get INDEX",
		Short: "Print the entry at INDEX as proto3 JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			index, err := parseIndex(args[0])
			if err != nil {
				return err
			}
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				e, err := c.Get(ctx, index)
				if err != nil {
					return err
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
}

func parseIndex(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("index %q: want a log index, 0 or more", s)
	}
	return n, nil
}

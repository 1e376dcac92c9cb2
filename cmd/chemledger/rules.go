package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newRulesCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the detection rules and the thresholds in force",
		Long: `Rules prints the detector's rule catalogue, in catalogue order: id, version,
the severity of its flags, its name, and the thresholds in force under the
log's policy. With --json it prints the chemledger.v1.ListRulesResponse,
descriptions and sources included, in proto3 JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				rules, err := c.Rules(ctx)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if asJSON {
					return printJSON(w, rules)
				}
				fmt.Fprintf(w, "policy %s\n\n", orDash(rules.GetPolicyVersion()))
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tVERSION\tSEVERITY\tNAME\tTHRESHOLDS")
				for _, r := range rules.GetRules() {
					var ts []string
					for _, t := range r.GetThresholds() {
						ts = append(ts, t.GetName()+"="+t.GetValue())
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.GetId(), r.GetVersion(), severityName(r.GetSeverity()), r.GetName(), orDash(strings.Join(ts, ", ")))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the catalogue as proto3 JSON")
	return cmd
}

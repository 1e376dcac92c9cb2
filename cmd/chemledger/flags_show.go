package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func newFlagsShowCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a flag with its explanation, thresholds, history and verified evidence",
		Long: `Show prints a flag in full: what it is about, its explanation, the thresholds
the rule used, the dispositions recorded on it, and each log entry it cites
as evidence. Every evidence entry is verified before anything is printed:
its leaf hash, the log's signature on the checkpoint, and the inclusion
proof. With --json it prints the chemledger.v1.FlagDetail, proofs included,
in proto3 JSON, for checking again offline.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				d, err := c.Flag(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), d)
				}
				return printFlagDetail(cmd.OutOrStdout(), d)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the flag, evidence and proofs as proto3 JSON")
	return cmd
}

// printFlagDetail prints a verified flag for a reader.
func printFlagDetail(w io.Writer, d *chemledgerv1.FlagDetail) error {
	f := d.GetFlag()
	tw := newTable(w)
	fmt.Fprintf(tw, "flag\t%s\n", f.GetId())
	fmt.Fprintf(tw, "rule\t%s version %d (policy %s)\n", f.GetRuleId(), f.GetRuleVersion(), orDash(f.GetPolicyVersion()))
	fmt.Fprintf(tw, "severity\t%s\n", severityName(f.GetSeverity()))
	fmt.Fprintf(tw, "status\t%s\n", statusName(f.GetStatus()))
	fmt.Fprintf(tw, "shipment\t%s\n", orDash(f.GetShipmentRef()))
	fmt.Fprintf(tw, "subject\t%s\n", orDash(f.GetSubject()))
	fmt.Fprintf(tw, "countries\t%s\n", orDash(strings.Join(f.GetCountries(), ", ")))
	fmt.Fprintf(tw, "chemical\t%s\n", orDash(f.GetCas()))
	fmt.Fprintf(tw, "raised\t%s\n", timestamp(f.GetRaisedTime()))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nexplanation:\n%s\n", wrap(f.GetExplanation(), textWidth, "  "))

	fmt.Fprintln(w, "\nthresholds:")
	if len(f.GetThresholds()) == 0 {
		fmt.Fprintln(w, "  none")
	}
	tw = newTable(w)
	for _, t := range f.GetThresholds() {
		fmt.Fprintf(tw, "  %s\t%s\n", t.GetName(), t.GetValue())
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nstatus history:")
	if len(f.GetStatusHistory()) == 0 {
		fmt.Fprintln(w, "  none: no disposition recorded")
	}
	for _, h := range f.GetStatusHistory() {
		fmt.Fprintf(w, "  %s  %s by %s (entry %d)\n", timestamp(h.GetTime()), statusName(h.GetStatus()), h.GetMember(), h.GetIndex())
		if h.GetNote() != "" {
			fmt.Fprintln(w, wrap(h.GetNote(), textWidth, "      "))
		}
	}

	fmt.Fprintln(w, "\nevidence:")
	tw = newTable(w)
	for i, e := range d.GetEvidence() {
		fmt.Fprintf(tw, "  entry %d\t%s\t%s\tinclusion verified at size %d\n",
			e.GetIndex(), e.GetMember(), entryWhat(e), d.GetProofs()[i].GetTreeSize())
	}
	return tw.Flush()
}

// entryWhat says in a few words what an entry records.
func entryWhat(e *chemledgerv1.Entry) string {
	switch {
	case e.GetEvent() != nil:
		return kindName(e.GetEvent().GetKind()) + " " + e.GetEvent().GetEventId()
	case e.GetRegistry() != nil:
		return "REGISTRY " + e.GetRegistry().GetEntryId()
	case e.GetDisposition() != nil:
		return "DISPOSITION of " + e.GetDisposition().GetFlagId()
	}
	return e.GetPayloadType()
}

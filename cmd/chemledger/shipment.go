package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func newShipmentCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shipment",
		Short: "Follow a shipment across every member's records",
	}
	cmd.AddCommand(newShipmentShowCmd(a))
	return cmd
}

func newShipmentShowCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show REF",
		Short: "Show a shipment's legs, open questions and flags",
		Long: `Show prints one shipment (a PEN reference or UCR) as a single timeline: every
leg any member reported, in log order, with its quantity reconciled to
kilograms of pure substance ("-" where it is unknown); then what the record
does not (yet) show, such as a missing receipt or quantities that do not
reconcile; then the flags raised on it. With --json it prints the
chemledger.v1.Shipment in proto3 JSON.`,
		Example: `  chemledger shipment show PEN-CN-2026-000871`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				s, err := c.Shipment(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), s)
				}
				return printShipment(cmd.OutOrStdout(), s)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the shipment as proto3 JSON")
	return cmd
}

func printShipment(w io.Writer, s *chemledgerv1.Shipment) error {
	fmt.Fprintf(w, "shipment %s\n\n", s.GetRef())
	tw := newTable(w)
	fmt.Fprintln(tw, "INDEX\tMEMBER\tKIND\tDATE\tCOUNTRY\tKG PURE\tDECLARED\tCONSIGNEE")
	for _, l := range s.GetLegs() {
		kind := kindName(l.GetKind())
		if r := l.GetPenReply(); r != chemledgerv1.PenReply_PEN_REPLY_UNSPECIFIED {
			kind += " (" + strings.TrimPrefix(r.String(), "PEN_REPLY_") + ")"
		}
		kg := "-"
		if l.GetKilograms() != 0 {
			kg = strconv.FormatFloat(l.GetKilograms(), 'f', -1, 64)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.GetIndex(), l.GetMember(), kind, date(l.GetOccurredTime()),
			orDash(l.GetLocationCountry()), kg, orDash(l.GetDeclaredQuantity()), orDash(l.GetConsignee()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nopen questions:")
	if len(s.GetOpenQuestions()) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, q := range s.GetOpenQuestions() {
		fmt.Fprintf(w, "  - %s\n", strings.TrimPrefix(wrap(q, textWidth, "    "), "    "))
	}

	fmt.Fprintln(w, "\nflags:")
	if len(s.GetFlags()) == 0 {
		_, err := fmt.Fprintln(w, "  none")
		return err
	}
	return printFlagTable(w, s.GetFlags())
}

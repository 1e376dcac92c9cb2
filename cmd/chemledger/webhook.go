package main

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func newWebhookCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Manage the member's webhook subscriptions (registry entries in the log)",
		Long: `A webhook subscription is a registry entry of the member's own: the service
POSTs every entry that matches its filter, and that the member may list, to
its HTTPS URL, signed with the log's webhook key (GetLog's
webhook_public_key; the README shows how to verify a delivery).`,
	}
	var member, keyFile string
	cmd.PersistentFlags().StringVar(&member, "member", "", "the member whose subscription it is (default --as, then US-CBP; dev key DATA_DIR/keys/MEMBER.json)")
	cmd.PersistentFlags().StringVar(&keyFile, "signing-key", "", "the member's private signing key file (instead of the dev key)")
	submit := func(cmd *cobra.Command, w *chemledgerv1.Webhook, what string) error {
		who := cmp.Or(member, a.as, defaultAs)
		if keyFile != "" {
			who = "auto"
		}
		k, err := newKeyring(a.layout(), who, keyFile)
		if err != nil {
			return err
		}
		key := *k.fixed
		now := time.Now().UTC()
		entry := &chemledgerv1.RegistryEntry{
			EntryId:       fmt.Sprintf("webhook-%s-%d", w.GetId(), now.UnixNano()),
			EffectiveTime: timestamppb.New(now),
			Change:        &chemledgerv1.RegistryEntry_Webhook{Webhook: w},
		}
		return a.withClient(cmd, key.Member, pki.RoleSubmitter, func(ctx context.Context, c *client.Client) error {
			r, err := c.SubmitRegistry(ctx, key.Member+":"+entry.GetEntryId(), entry, key.Signer())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "webhook %s %s by %s: entry %d, inclusion verified at size %d\n", w.GetId(), what, r.Member, r.Index, r.Checkpoint.Size)
			return err
		})
	}

	var id, url, filter string
	add := &cobra.Command{
		Use:     "add --id ID --url https://… [--filter F]",
		Short:   "Subscribe (or change the subscription of that id)",
		Example: `  chemledger webhook add --member MX-ANAM --id pen --url https://alerts.anam.example/chemledger --filter 'addressed_to = "MX"'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return submit(cmd, &chemledgerv1.Webhook{Id: id, Url: url, Filter: filter}, "set")
		},
	}
	add.Flags().StringVar(&id, "id", "", "the subscription's id (required)")
	add.Flags().StringVar(&url, "url", "", "the HTTPS endpoint (required)")
	add.Flags().StringVar(&filter, "filter", "", `a watch filter: the list's, plus addressed_to = "CC"`)
	add.MarkFlagRequired("id")
	add.MarkFlagRequired("url")

	var removeID string
	remove := &cobra.Command{
		Use:   "remove --id ID",
		Short: "End a subscription",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return submit(cmd, &chemledgerv1.Webhook{Id: removeID, Removed: true}, "removed")
		},
	}
	remove.Flags().StringVar(&removeID, "id", "", "the subscription's id (required)")
	remove.MarkFlagRequired("id")

	list := &cobra.Command{
		Use:   "list",
		Short: "Show the member's subscriptions: URL, filter, how far delivered, lag and last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, member, pki.RoleSubmitter, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Webhooks(ctx)
				if err != nil {
					return err
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "MEMBER\tID\tURL\tFILTER\tDELIVERED TO\tLAG\tLAST ERROR")
				for _, w := range resp.GetWebhooks() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", w.GetMember(), w.GetId(), w.GetUrl(), orDash(w.GetFilter()), w.GetCursor(), w.GetLag(), orDash(w.GetLastError()))
				}
				return tw.Flush()
			})
		},
	}
	cmd.AddCommand(add, remove, list)
	return cmd
}

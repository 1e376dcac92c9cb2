package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func newMemberCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Join the coalition, and (admins) admit, suspend, reinstate or remove members",
		Long: `A new member agency runs "member init" on its own machine: it makes the
agency's signing key, its TLS key and a certificate signing request, and a
join request with the public halves. No private key leaves that machine.
The CA operator signs the certificate request ("chemledgerd ca sign"); an
admin of another member appends the join ("member add"). From the next entry
on, the new member submits and reads with its own certificate.

"member list" shows every member with its status, roles, keys and the
entries that changed them. "member suspend", "reinstate" and "remove" are
registry entries too, signed by an admin, effective from the next entry;
what a member signed before still verifies.`,
	}
	cmd.AddCommand(newMemberInitCmd(a), newMemberAddCmd(a), newMemberListCmd(a),
		newMemberStatusCmd(a, "suspend", chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_SUSPEND),
		newMemberStatusCmd(a, "reinstate", chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_REINSTATE),
		newMemberStatusCmd(a, "remove", chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_REMOVE))
	return cmd
}

func newMemberInitCmd(a *app) *cobra.Command {
	var id, country, agency, out string
	cmd := &cobra.Command{
		Use:   "init --id ID --country CC --agency NAME [--out DIR]",
		Short: "Make a joining member's keys, certificate request and join request",
		Long: `Init makes, in DIR (default ./ID), on the joining agency's own machine:

  signing-key.json  its Ed25519 signing key (secret, mode 0600)
  tls.key           its TLS client key (secret, mode 0600)
  tls.csr           a certificate signing request for the CA operator
  request.json      the join request for an admin: id, country, agency,
                    the public signing key and the certificate identity

Nothing is overwritten. Send tls.csr to the CA operator and request.json to
an admin; keep the two keys.`,
		Example: `  chemledger member init --id CA-CBSA --country CA --agency "Canada Border Services Agency"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !pki.MemberIDPattern.MatchString(id) {
				return fmt.Errorf("--id %q: want the country code, a dash and the agency's short name in capitals, like CA-CBSA", id)
			}
			if !strings.HasPrefix(id, country+"-") {
				return fmt.Errorf("--country %q: the member id %s must start with it", country, id)
			}
			if strings.TrimSpace(agency) == "" {
				return errors.New("--agency is required: the agency's name")
			}
			home := members.Home{Dir: cmp.Or(out, id)}
			if err := os.MkdirAll(home.Dir, 0o700); err != nil {
				return err
			}
			key, err := members.GenerateKey(id)
			if err != nil {
				return err
			}
			if err := members.WritePrivateKey(home.SigningKey(), key); err != nil {
				return err
			}
			if err := pki.NewRequest(id, home.TLSKey(), home.CSR()); err != nil {
				return err
			}
			req := members.JoinRequest{ID: id, Country: country, Agency: agency, Keys: []members.PublicKey{key.Public()},
				CertificateIdentity: members.CertificateIdentity(id)}
			if err := members.WriteJoinRequest(home.Request(), req); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), `made %s's keys in %s (keep signing-key.json and tls.key there)
next:
  1. the CA operator signs the request:  chemledgerd ca sign --csr %s --out %s
  2. an admin admits the member:         chemledger member add --request %s --roles submitter,analyst
`, id, home.Dir, home.CSR(), home.Cert(), home.Request())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "the member id, for example CA-CBSA (required)")
	f.StringVar(&country, "country", "", "the member state, ISO 3166-1 alpha-2 (required)")
	f.StringVar(&agency, "agency", "", "the agency's name (required)")
	f.StringVar(&out, "out", "", "directory to make (default ./ID)")
	for _, n := range []string{"id", "country", "agency"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

// adminSigner is the key an admin signs member changes with: --signing-key,
// else the dev-mode key of --admin (default --as, then US-CBP).
type adminSigner struct{ admin, keyFile string }

func (s *adminSigner) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.admin, "admin", "", "the admin member that signs (default --as, then US-CBP; its key is DATA_DIR/keys/ADMIN.json)")
	cmd.Flags().StringVar(&s.keyFile, "signing-key", "", "the admin's private signing key file (instead of --admin's dev key)")
}

func (s adminSigner) key(a *app) (members.PrivateKey, error) {
	admin := cmp.Or(s.admin, a.as, defaultAs)
	if s.keyFile != "" {
		admin = "auto"
	}
	k, err := newKeyring(a.layout(), admin, s.keyFile)
	if err != nil {
		return members.PrivateKey{}, err
	}
	return *k.fixed, nil
}

// submitMemberChange signs a registry entry as the admin and submits it
// over a connection authenticated as the admin.
func (a *app) submitMemberChange(cmd *cobra.Command, s adminSigner, entry *chemledgerv1.RegistryEntry, what string) error {
	key, err := s.key(a)
	if err != nil {
		return err
	}
	return a.withClient(cmd, key.Member, pki.RoleAdmin, func(ctx context.Context, c *client.Client) error {
		r, err := c.SubmitRegistry(ctx, key.Member+":"+entry.GetEntryId(), entry, key.Signer())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s by %s: entry %d, inclusion verified at size %d; in effect from entry %d\n",
			what, r.Member, r.Index, r.Checkpoint.Size, r.Index+1)
		return err
	})
}

func newMemberAddCmd(a *app) *cobra.Command {
	var request, roles string
	var s adminSigner
	cmd := &cobra.Command{
		Use:   "add --request FILE --roles ROLE,... [--signing-key FILE | --admin ADMIN]",
		Short: "Admit a member (admins): a signed Membership join entry",
		Long: `Add reads the join request a new member made with "member init" and appends
a Membership join entry, signed by an admin, granting --roles (submitter,
analyst, auditor, admin). The log refuses a member id already given out, a
key id already in use, an admin admitting its own member, and a signer
without the admin role.`,
		Example: `  chemledger member add --request CA-CBSA/request.json --roles submitter,analyst --signing-key us-admin.json --cert us-admin.pem --key us-admin.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := members.ReadJoinRequest(request)
			if err != nil {
				return err
			}
			m := &chemledgerv1.Membership{Member: req.ID, Action: chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_JOIN,
				Country: req.Country, Agency: req.Agency, Roles: splitRoles(roles), CertificateIdentity: req.CertificateIdentity}
			for _, k := range req.Keys {
				m.Keys = append(m.Keys, &chemledgerv1.SigningKey{KeyId: k.ID, Ed25519: k.Ed25519})
			}
			entry := membershipEntry("join-"+req.ID, m)
			return a.submitMemberChange(cmd, s, entry, req.ID+" admitted with roles "+strings.Join(m.Roles, ", "))
		},
	}
	cmd.Flags().StringVar(&request, "request", "", "the join request (request.json from member init) (required)")
	cmd.Flags().StringVar(&roles, "roles", "", "comma-separated roles to grant (required)")
	s.flags(cmd)
	cmd.MarkFlagRequired("request")
	cmd.MarkFlagRequired("roles")
	return cmd
}

func splitRoles(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// membershipEntry wraps m in a registry entry effective now. The entry id
// of a join is fixed by the member id, so a join can be appended once.
func membershipEntry(id string, m *chemledgerv1.Membership) *chemledgerv1.RegistryEntry {
	return &chemledgerv1.RegistryEntry{EntryId: id, EffectiveTime: timestamppb.New(time.Now().UTC().Truncate(time.Second)),
		Change: &chemledgerv1.RegistryEntry_Membership{Membership: m}}
}

func newMemberStatusCmd(a *app, verb string, action chemledgerv1.MembershipAction) *cobra.Command {
	var reason string
	var s adminSigner
	cmd := &cobra.Command{
		Use:   verb + " ID --reason TEXT",
		Short: map[string]string{"suspend": "Suspend a member (admins): refused from the next entry until reinstated", "reinstate": "Reinstate a suspended member (admins)", "remove": "Remove a member for good (admins): its keys and roles end"}[verb],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := &chemledgerv1.Membership{Member: args[0], Action: action, Reason: reason}
			entry := membershipEntry(fmt.Sprintf("%s-%s-%d", verb, args[0], time.Now().UnixNano()), m)
			return a.submitMemberChange(cmd, s, entry, args[0]+" "+map[string]string{"suspend": "suspended", "reinstate": "reinstated", "remove": "removed"}[verb])
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record (required to suspend or remove)")
	s.flags(cmd)
	return cmd
}

func newMemberListCmd(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [--output table|json]",
		Short: "List the members: status, roles, keys and the entries that changed them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Members(ctx)
				if err != nil {
					return err
				}
				if output == "json" {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				return printMembers(cmd, resp)
			})
		},
	}
	cmd.Flags().StringVar(&output, "output", "table", "table or json")
	return cmd
}

func printMembers(cmd *cobra.Command, resp *chemledgerv1.ListMembersResponse) error {
	w := newTable(cmd.OutOrStdout())
	fmt.Fprintf(w, "MEMBER\tCOUNTRY\tSTATUS\tROLES\tKEYS\tAGENCY\n")
	for _, m := range resp.GetMembers() {
		var keys []string
		for _, k := range m.GetKeys() {
			s := k.GetKeyId()
			if k.GetRevoked() {
				s += " (revoked)"
			}
			keys = append(keys, s)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.GetId(), m.GetCountry(), strings.ToLower(strings.TrimPrefix(m.GetStatus().String(), "MEMBER_STATUS_")),
			cmp.Or(strings.Join(m.GetRoles(), ","), "-"), strings.Join(keys, ", "), m.GetAgency())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "\nchanges (registry as of tree size %d):\n", resp.GetTreeSize())
	for _, m := range resp.GetMembers() {
		for _, h := range m.GetHistory() {
			at := "members file"
			if h.Index != nil {
				at = fmt.Sprintf("entry %d", h.GetIndex())
			}
			fmt.Fprintf(out, "  %-12s %-14s %s\n", m.GetId(), at, h.GetDescription())
		}
	}
	return nil
}

// keyringHome is where submit --keyring finds a member: one member home
// (member init's directory) per member, named by its id.
func keyringHome(dir, member string) members.Home {
	return members.Home{Dir: filepath.Join(dir, member)}
}

// useKeyring points k at the member homes in dir and learns from the log's
// registry which member signs each country's lines: the active members
// with the submitter role that have a home there. It reads the registry
// with the first home's certificate.
func (a *app) useKeyring(cmd *cobra.Command, k *keyring, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--keyring: %w", err)
	}
	var homes []string
	for _, e := range ents {
		if e.IsDir() && pki.MemberIDPattern.MatchString(e.Name()) {
			if _, err := os.Stat(keyringHome(dir, e.Name()).SigningKey()); err == nil {
				homes = append(homes, e.Name())
			}
		}
	}
	if len(homes) == 0 {
		return fmt.Errorf("--keyring %s holds no member home (MEMBER/signing-key.json)", dir)
	}
	a.keyringDir = dir
	k.dir, k.byCountry = dir, map[string][]string{}
	return a.withClient(cmd, homes[0], pki.RoleSubmitter, func(ctx context.Context, c *client.Client) error {
		resp, err := c.Members(ctx)
		if err != nil {
			return err
		}
		for _, m := range resp.GetMembers() {
			if m.GetStatus() == chemledgerv1.MemberStatus_MEMBER_STATUS_ACTIVE && slices.Contains(m.GetRoles(), pki.RoleSubmitter) && slices.Contains(homes, m.GetId()) {
				k.byCountry[m.GetCountry()] = append(k.byCountry[m.GetCountry()], m.GetId())
			}
		}
		return nil
	})
}

// registryMember is the one keyring member that signs country's lines.
func (k *keyring) registryMember(field, country string) (string, error) {
	ms := k.byCountry[country]
	switch {
	case country == "":
		return "", refusal(field, "required: it picks the member that signs the line")
	case len(ms) == 0:
		return "", refusal(field, "no active member of %q with the submitter role has a home in the keyring %s", country, k.dir)
	case len(ms) > 1:
		return "", refusal(field, "%s all report from %q; keep one of them in the keyring for these lines", strings.Join(ms, ", "), country)
	}
	return ms[0], nil
}

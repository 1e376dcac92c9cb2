package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// keyringSubmit measures `chemledger submit --keyring` the way a migration
// runs it: the real CLI binary, a file of -entries events from 8 members
// interleaved line by line (every tenth line a second leg of the shipment
// before it, from another member, so the order the CLI must keep is
// exercised), each line signed by the member the registry names for its
// country and sent over that member's own certificate (mutual TLS). The
// eighth member is admitted through the log first, as a real one is.
func keyringSubmit(ctx context.Context, c config) error {
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	in, err := servertest.Start(filepath.Join(dir, "service"), servertest.Options{TLS: true, NoDetection: true})
	if err != nil {
		return err
	}
	defer in.Stop()

	ring := filepath.Join(dir, "keyring")
	homes := map[string]string{} // member → country
	for _, m := range datadir.DemoMembers {
		homes[m.ID] = m.Country
	}
	if err := admitMember(ctx, in, "CA-CBSA"); err != nil {
		return fmt.Errorf("admit CA-CBSA: %w", err)
	}
	homes["CA-CBSA"] = "CA"
	ca, err := pki.LoadCA(in.PKI.CA(), in.PKI.CAKey())
	if err != nil {
		return err
	}
	for m := range homes {
		h := members.Home{Dir: filepath.Join(ring, m)}
		if err := os.MkdirAll(h.Dir, 0o700); err != nil {
			return err
		}
		k := in.Keys[m]
		if m == "CA-CBSA" {
			k = admitted
		}
		if err := members.WritePrivateKey(h.SigningKey(), k); err != nil {
			return err
		}
		cert, err := ca.Issue(pki.CertSpec{URIs: []string{pki.URI(m, pki.RoleSubmitter)}, CommonName: m,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			return err
		}
		if err := pki.WritePEM(h.Cert(), h.TLSKey(), cert); err != nil {
			return err
		}
	}

	// The file: events from the 8 members in turn, line by line.
	order := slices.Sorted(func(yield func(string) bool) {
		for m := range homes {
			if !yield(m) {
				return
			}
		}
	})
	var b strings.Builder
	ref := ""
	for i := range c.entries {
		m := order[i%len(order)]
		ev := event(i)
		if i%10 != 9 || ref == "" {
			ref = fmt.Sprintf("UCR-MIGR-%07d", i)
		}
		ev.EventId, ev.ShipmentRef, ev.LocationCountry = fmt.Sprintf("MIGR-%07d", i), ref, homes[m]
		line, err := protojson.Marshal(ev)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	file := filepath.Join(dir, "history.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return err
	}
	bin := filepath.Join(dir, "chemledger")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/chemledger").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/chemledger: %v\n%s", err, out)
	}
	logPub := filepath.Join(dir, "log.pub")
	if err := os.WriteFile(logPub, []byte(in.VerifierKey+"\n"), 0o644); err != nil {
		return err
	}
	before, _ := in.Ledger.Checkpoint()
	cmd := exec.CommandContext(ctx, bin, "--server", in.GRPCAddr, "--ca", in.PKI.CA(), "--log-key", logPub,
		"--data-dir", filepath.Join(dir, "nowhere"), "--timeout", "10m", "submit", "--keyring", ring, file)
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chemledger submit --keyring: %w", err)
	}
	took := time.Since(start)
	after, _ := in.Ledger.Checkpoint()
	if got := after.Size - before.Size; got != uint64(c.entries) {
		return fmt.Errorf("the log grew by %d entries, want %d", got, c.entries)
	}
	fmt.Printf("keyring: %d entries from %d members interleaved line by line, over mutual TLS, in %v: %.0f entries/s (the CLI's whole run: start, registry lookup, signing, 8 bulk streams, every batch checkpoint verified)\n",
		c.entries, len(homes), took.Round(time.Millisecond), float64(c.entries)/took.Seconds())
	return nil
}

// admitted is the signing key of the member keyringSubmit admits.
var admitted members.PrivateKey

// admitMember appends, as US-CBP's admin, the join of a new member id.
func admitMember(ctx context.Context, in *servertest.Instance, id string) error {
	k, err := members.GenerateKey(id)
	if err != nil {
		return err
	}
	admitted = k
	tlsCfg, err := in.PKI.Client("US-CBP", pki.RoleAdmin)
	if err != nil {
		return err
	}
	c, err := client.Dial(in.GRPCAddr, client.WithTLS(tlsCfg), client.WithLogVerifierKey(in.VerifierKey))
	if err != nil {
		return err
	}
	defer c.Close()
	pub := k.Public()
	entry := &chemledgerv1.RegistryEntry{EntryId: "join-" + id, EffectiveTime: timestamppb.Now(),
		Change: &chemledgerv1.RegistryEntry_Membership{Membership: &chemledgerv1.Membership{
			Member: id, Action: chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_JOIN, Country: id[:2], Agency: "Canada Border Services Agency",
			Roles: []string{pki.RoleSubmitter}, Keys: []*chemledgerv1.SigningKey{{KeyId: pub.ID, Ed25519: pub.Ed25519}},
			CertificateIdentity: members.CertificateIdentity(id)}}}
	_, err = c.SubmitRegistry(ctx, "US-CBP:join-"+id, entry, in.Keys["US-CBP"].Signer())
	return err
}

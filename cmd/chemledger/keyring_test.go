package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage"
)

// TestSubmitKeyringKeepsTheOrderThatMatters: a history of the seven demo
// members interleaved line by line, with shipments whose three legs come
// from three members, submitted with --keyring over each member's own
// certificate and bulk streams open at once. Every line is signed by the
// member of its country, and every shipment's legs are in the log in the
// file's order.
func TestSubmitKeyringKeepsTheOrderThatMatters(t *testing.T) {
	in, err := servertest.Start(t.TempDir(), servertest.Options{TLS: true, NoDetection: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	ring := t.TempDir()
	dev := in.PKI
	for _, m := range datadir.DemoMembers {
		h := keyringHome(ring, m.ID)
		os.MkdirAll(h.Dir, 0o700)
		if err := members.WritePrivateKey(h.SigningKey(), in.Keys[m.ID]); err != nil {
			t.Fatal(err)
		}
		for src, dst := range map[string]string{dev.ClientCert(m.ID, "submitter"): h.Cert(), dev.ClientKey(m.ID, "submitter"): h.TLSKey()} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(dst, b, 0o600)
		}
	}
	var events []string
	type leg struct{ id, ref, member string }
	var legs []leg
	for i := range 300 {
		m := datadir.DemoMembers[i%len(datadir.DemoMembers)]
		ref := fmt.Sprintf("UCR-KR-%04d", i/3) // three legs a shipment, from three members
		ev := &chemledgerv1.ShipmentEvent{
			EventId: fmt.Sprintf("KR-%04d", i), Kind: chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, ShipmentRef: ref,
			Chemical:        &chemledgerv1.Chemical{Cas: "39742-60-4", HsCode: "293337", Name: "N-Phenethyl-4-piperidone"},
			Quantity:        &chemledgerv1.Quantity{Value: 100, Unit: "KGM"},
			Exporter:        &chemledgerv1.Party{Name: "Exporter", Country: "CN"},
			Importer:        &chemledgerv1.Party{Name: "Importer", Country: "MX"},
			Consignee:       &chemledgerv1.Party{Name: "Consignee", Country: "MX"},
			OccurredTime:    timestamppb.New(time.Date(2026, 2, 1, 0, 0, i, 0, time.UTC)),
			LocationCountry: m.Country,
		}
		b, _ := protojson.Marshal(ev)
		events = append(events, string(b))
		legs = append(legs, leg{ev.EventId, ref, m.ID})
	}
	file := writeFile(t, "history.jsonl", strings.Join(events, "\n")+"\n")
	logPub := writeFile(t, "log.pub", in.VerifierKey+"\n")
	r := run(t, map[string]string{"CHEMLEDGER_INSECURE": "false"}, nil,
		"--server", in.GRPCAddr, "--ca", dev.CA(), "--log-key", logPub, "--data-dir", t.TempDir(), "submit", "--keyring", ring, file)
	if r.err != nil {
		t.Fatalf("submit --keyring: %v\n%s\n%.2000s", r.err, r.stderr, r.stdout)
	}
	if n := strings.Count(r.stdout, `"index"`); n != len(events) {
		t.Fatalf("%d receipts for %d lines:\n%s", n, len(events), r.stdout)
	}
	// Read the log back: who signed each event, and in what order.
	pos := map[string]uint64{}
	signer := map[string]string{}
	entries, _, _, err := in.Ledger.List(t.Context(), storage.Filter{}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		env, err := envelope.Parse(e.Leaf)
		if err != nil {
			continue
		}
		p, err := envelope.DecodePayload(env)
		if err != nil || p.Event == nil {
			continue
		}
		pos[p.Event.GetEventId()], signer[p.Event.GetEventId()] = e.Index, e.Meta.Member
	}
	last := map[string]uint64{}
	lastID := map[string]string{}
	for _, l := range legs {
		at, ok := pos[l.id]
		if !ok {
			t.Fatalf("event %s is not in the log", l.id)
		}
		if signer[l.id] != l.member {
			t.Errorf("event %s signed by %s, want %s, the member of its country", l.id, signer[l.id], l.member)
		}
		if p, ok := last[l.ref]; ok && at < p {
			t.Errorf("shipment %s: %s is entry %d, before %s (entry %d), which comes first in the file", l.ref, l.id, at, lastID[l.ref], p)
		}
		last[l.ref], lastID[l.ref] = at, l.id
	}
}

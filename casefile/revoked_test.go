package casefile_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/casefile"
	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// TestRevokedKeyRefused: a two-entry log where entry 0 revokes MX-ANAM's
// key and entry 1 is an event signed with it. Every proof and the
// checkpoint are good, so the only thing wrong is the signature by a key the
// registry had revoked at that index, and the refusal must say so.
func TestRevokedKeyRefused(t *testing.T) {
	_, adminPriv, _ := ed25519.GenerateKey(rand.Reader)
	_, memberPriv, _ := ed25519.GenerateKey(rand.Reader)
	admin := envelope.Signer{KeyID: "XX-ADMIN-1", Key: adminPriv}
	member := envelope.Signer{KeyID: "MX-ANAM-1", Key: memberPriv}

	reg, err := protojson.Marshal(&v1.RegistryEntry{EntryId: "REV-1", EffectiveTime: timestamppb.Now(),
		Change: &v1.RegistryEntry_MemberKey{MemberKey: &v1.MemberKey{Member: "MX-ANAM", KeyId: member.KeyID, Revoked: true}}})
	if err != nil {
		t.Fatal(err)
	}
	leaf0, err := envelope.Sign(envelope.PayloadTypeRegistryJSON, reg, admin)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := envelope.EncodeEventJSON(&v1.ShipmentEvent{EventId: "E-1", Kind: v1.EventKind_EVENT_KIND_EXPORT_DECLARATION, ShipmentRef: "S-1", OccurredTime: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	leaf1, err := envelope.Sign(envelope.PayloadTypeEventJSON, ev, member)
	if err != nil {
		t.Fatal(err)
	}
	h0, h1 := checkpoint.LeafHash(leaf0), checkpoint.LeafHash(leaf1)
	root := rfc6962.DefaultHasher.HashChildren(h0, h1)
	skey, vkey, err := note.GenerateKey(rand.Reader, "test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	cpNote, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: "test.example/log", Size: 2, Root: root}, signer)
	if err != nil {
		t.Fatal(err)
	}
	c := &casefile.Case{
		Flag:       &v1.Flag{Id: "R1-000000000000", RuleId: "R1", RuleVersion: 1, Evidence: []uint64{1}},
		Checkpoint: cpNote, LogKey: vkey,
		Founders: []casefile.Founder{
			{Member: "XX-ADMIN", KeyID: admin.KeyID, Ed25519: adminPriv.Public().(ed25519.PublicKey)},
			{Member: "MX-ANAM", KeyID: member.KeyID, Ed25519: memberPriv.Public().(ed25519.PublicKey)},
		},
		Entries: []casefile.Entry{
			{Index: 0, Role: casefile.RoleRegistry, Member: "XX-ADMIN", Leaf: leaf0, Proof: [][]byte{h1}},
			{Index: 1, Role: casefile.RoleEvidence, Member: "MX-ANAM", Leaf: leaf1, Proof: [][]byte{h0}},
		},
	}
	var buf bytes.Buffer
	if err := casefile.Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = casefile.Verify(buf.Bytes(), casefile.Policy{Log: v}, detect.DefaultPolicy())
	want := `entry 1: entries/1.dsse signed with key "MX-ANAM-1", which the registry revoked at entry 0`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("refusal %v, want %q", err, want)
	}

	// The same bundle under another log's key is refused at the checkpoint.
	_, other, _ := note.GenerateKey(rand.Reader, "test.example/log")
	ov, _ := note.NewVerifier(other)
	if _, err := casefile.Verify(buf.Bytes(), casefile.Policy{Log: ov}, detect.DefaultPolicy()); err == nil || !strings.Contains(err.Error(), "log key") {
		t.Fatalf("another log's key: %v, want a refusal naming the log key", err)
	}
}

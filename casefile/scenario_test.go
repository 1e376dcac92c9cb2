package casefile_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/casefile"
	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/detect/scenario"
	"github.com/chemledger/chemledger/envelope"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// levels is an in-memory RFC 6962 tree: level 0 the leaf hashes, each
// level above the pairs' hashes, an odd last node carried up unchanged
// (which gives the RFC 6962 root and audit paths for any size).
type levels [][][]byte

func buildTree(leaves [][]byte) levels {
	l := levels{leaves}
	for cur := leaves; len(cur) > 1; {
		var next [][]byte
		for i := 0; i < len(cur); i += 2 {
			if i+1 < len(cur) {
				next = append(next, rfc6962.DefaultHasher.HashChildren(cur[i], cur[i+1]))
			} else {
				next = append(next, cur[i])
			}
		}
		l = append(l, next)
		cur = next
	}
	return l
}

func (l levels) root() []byte { return l[len(l)-1][0] }

func (l levels) proof(i int) [][]byte {
	var p [][]byte
	for _, lv := range l[:len(l)-1] {
		if s := i ^ 1; s < len(lv) {
			p = append(p, lv[s])
		}
		i >>= 1
	}
	return p
}

// TestScenarioCases signs the scenario year as a log in memory, folds it
// through the detector as derive does, and for the flag of every labelled
// case builds a case file (its evidence and every registry entry before the
// last of it) and verifies it. It records, rule by rule, whether the flag
// is re-derived from the bundle alone: the answer to "can every rule be
// re-derived from a bundle?" — yes for every rule the scenario has a case
// of, once the bundle carries the log's first event (R21 needs the log's
// age). Rules resting on absence are re-derived but not proven against the
// whole log (casefile.Caveats).
func TestScenarioCases(t *testing.T) {
	sc := scenario.Generate(scenario.DefaultConfig())
	keys := map[string]envelope.Signer{}
	var founders []casefile.Founder
	signer := func(member string) envelope.Signer {
		if s, ok := keys[member]; ok {
			return s
		}
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s := envelope.Signer{KeyID: member + "-1", Key: priv}
		keys[member] = s
		founders = append(founders, casefile.Founder{Member: member, KeyID: s.KeyID, Ed25519: priv.Public().(ed25519.PublicKey)})
		return s
	}
	var leaves, hashes [][]byte
	for _, it := range sc.Items {
		var (
			b   []byte
			typ string
			err error
		)
		if it.Event != nil {
			b, err = envelope.EncodeEventJSON(it.Event)
			typ = envelope.PayloadTypeEventJSON
		} else {
			b, err = protojson.Marshal(it.Registry)
			typ = envelope.PayloadTypeRegistryJSON
		}
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := envelope.Sign(typ, b, signer(it.Member))
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaf)
		hashes = append(hashes, checkpoint.LeafHash(leaf))
	}
	tree := buildTree(hashes)
	skey, vkey, _ := note.GenerateKey(rand.Reader, "scenario.example/log")
	ns, _ := note.NewSigner(skey)
	cpNote, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: "scenario.example/log", Size: uint64(len(leaves)), Root: tree.root()}, ns)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(vkey)

	// The detector's flags, folded as derive folds: Apply, then Sweep as
	// the log's clock (the latest occurred time, capped at the entry's
	// time) advances.
	pol := detect.DefaultPolicy()
	eng := detect.NewEngine(pol)
	st := detect.NewState()
	var flags []detect.Flag
	var clock time.Time
	for i, it := range sc.Items {
		rec := detect.Record{Index: uint64(i), Member: it.Member, Time: it.Time, Event: it.Event, Registry: it.Registry}
		flags = append(flags, eng.Apply(st, rec)...)
		if ot := it.Event.GetOccurredTime(); ot != nil {
			at := ot.AsTime()
			if at.After(it.Time) {
				at = it.Time
			}
			if at.After(clock) {
				clock = at
				flags = append(flags, eng.Sweep(st, at)...)
			}
		}
	}

	results := map[string][]string{}
	for _, cs := range sc.Cases {
		var f *detect.Flag
		for i := range flags {
			if flags[i].RuleID == cs.RuleID && (cs.ShipmentRef == "" || flags[i].ShipmentRef == cs.ShipmentRef) {
				f = &flags[i]
				break
			}
		}
		if f == nil {
			results[cs.RuleID] = append(results[cs.RuleID], "no flag in the full fold")
			continue
		}
		pf := &v1.Flag{Id: f.ID, RuleId: f.RuleID, RuleVersion: int32(f.RuleVersion), PolicyVersion: f.PolicyVersion,
			ShipmentRef: f.ShipmentRef, Subject: f.Subject, Cas: f.CAS, RaisedTime: timestamppb.New(f.RaisedAt), Explanation: f.Explanation, Evidence: f.Evidence}
		last := f.Evidence[len(f.Evidence)-1]
		c := &casefile.Case{Flag: pf, Checkpoint: cpNote, LogKey: vkey, Founders: founders}
		ev := map[uint64]bool{}
		for _, ix := range f.Evidence {
			ev[ix] = true
		}
		firstEvent := true
		for i := uint64(0); i <= last; i++ {
			it := sc.Items[i]
			role := casefile.RoleEvidence
			switch {
			case ev[i]:
			case it.Registry != nil:
				role = casefile.RoleRegistry
			case it.Event != nil && firstEvent:
				role = casefile.RoleContext
			default:
				continue
			}
			if it.Event != nil {
				firstEvent = false
			}
			c.Entries = append(c.Entries, casefile.Entry{Index: i, Role: role, Member: it.Member, Leaf: leaves[i], Proof: tree.proof(int(i))})
		}
		var buf bytes.Buffer
		if err := casefile.Write(&buf, c); err != nil {
			t.Fatal(err)
		}
		rep, err := casefile.Verify(buf.Bytes(), casefile.Policy{Log: v}, pol)
		switch {
		case err == nil:
			results[cs.RuleID] = append(results[cs.RuleID], fmt.Sprintf("re-derived from %d entries", rep.Entries))
		default:
			t.Errorf("case %s (%s): %v", cs.RuleID, cs.ShipmentRef, err)
		}
	}
	var rules []string
	for r := range results {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	for _, r := range rules {
		t.Logf("%s: %s", r, strings.Join(results[r], "; "))
	}
}

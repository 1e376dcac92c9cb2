package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/detect/scenario"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func TestRunWritesTheYear(t *testing.T) {
	dir := t.TempDir()
	out, cases := filepath.Join(dir, "year.jsonl"), filepath.Join(dir, "cases.json")
	if err := run([]string{"--seed", "9", "--days", "300", "--out", out, "--cases", cases}, nil); err != nil {
		t.Fatal(err)
	}
	want := scenario.Generate(scenario.Config{Seed: 9, Start: scenario.DefaultConfig().Start, Days: 300,
		Companies: scenario.DefaultConfig().Companies, ShipmentsPerMonth: scenario.DefaultConfig().ShipmentsPerMonth})

	f, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	sc.Buffer(nil, 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		var l struct {
			Member, Time    string
			Event, Registry json.RawMessage
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if n >= len(want.Items) {
			t.Fatalf("more lines than the %d items", len(want.Items))
		}
		it := want.Items[n]
		if l.Member != it.Member || l.Time != it.Time.UTC().Format("2006-01-02T15:04:05Z") {
			t.Errorf("line %d: member %s time %s, want %s %v", n+1, l.Member, l.Time, it.Member, it.Time)
		}
		switch {
		case it.Event != nil:
			ev := &chemledgerv1.ShipmentEvent{}
			if err := protojson.Unmarshal(l.Event, ev); err != nil || ev.GetEventId() != it.Event.GetEventId() || l.Registry != nil {
				t.Errorf("line %d: event %s (err %v), want %s", n+1, ev.GetEventId(), err, it.Event.GetEventId())
			}
		default:
			re := &chemledgerv1.RegistryEntry{}
			if err := protojson.Unmarshal(l.Registry, re); err != nil || re.GetEntryId() != it.Registry.GetEntryId() || l.Event != nil {
				t.Errorf("line %d: registry entry %s (err %v), want %s", n+1, re.GetEntryId(), err, it.Registry.GetEntryId())
			}
		}
	}
	if n != len(want.Items) {
		t.Errorf("%d lines, want %d", n, len(want.Items))
	}

	var c struct {
		Seed  uint64
		Cases []struct {
			RuleID      string `json:"rule_id"`
			ShipmentRef string `json:"shipment_ref"`
		}
		CleanShipments []string `json:"clean_shipments"`
	}
	b, err := os.ReadFile(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Seed != 9 || len(c.Cases) != len(want.Cases) || len(c.CleanShipments) != len(want.CleanShipments) || c.Cases[0].RuleID != want.Cases[0].RuleID {
		t.Errorf("cases file: seed %d, %d cases, %d clean; want 9, %d, %d", c.Seed, len(c.Cases), len(c.CleanShipments), len(want.Cases), len(want.CleanShipments))
	}

	// The same flags give the same bytes.
	again := filepath.Join(dir, "again.jsonl")
	if err := run([]string{"--seed", "9", "--days", "300", "--out", again}, nil); err != nil {
		t.Fatal(err)
	}
	if g, err := os.ReadFile(again); err != nil || !bytes.Equal(g, f) {
		t.Errorf("a second run wrote different bytes (err %v)", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--start", "2026-13-01"}, {"stray"}, {"--seed", "x"}} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

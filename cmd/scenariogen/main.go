// Command scenariogen writes a generated year of precursor-chemical trade
// (package detect/scenario) as JSON lines, one log entry per line in
// submission order:
//
//	{"member":"IN-NCB","time":"2026-01-02T07:12:00Z","event":{…ShipmentEvent in protojson…}}
//	{"member":"US-CBP","time":"2026-01-01T00:03:00Z","registry":{…RegistryEntry in protojson…}}
//
// and, with --cases, the injected diversion cases with the rule that must
// flag each, and the references of the clean shipments:
//
//	go run ./cmd/scenariogen --seed 1 --out year.jsonl --cases cases.json
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/detect/scenario"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scenariogen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	def := scenario.DefaultConfig()
	fs := flag.NewFlagSet("scenariogen", flag.ContinueOnError)
	seed := fs.Uint64("seed", def.Seed, "seed of the year; the same flags always give the same output")
	start := fs.String("start", def.Start.Format(time.DateOnly), "first day (YYYY-MM-DD, UTC)")
	days := fs.Int("days", def.Days, fmt.Sprintf("days on which PENs are sent (at least %d)", scenario.MinDays))
	companies := fs.Int("companies", def.Companies, fmt.Sprintf("legitimate companies (at least %d)", scenario.MinCompanies))
	perMonth := fs.Int("per-month", def.ShipmentsPerMonth, "legitimate shipments a month")
	out := fs.String("out", "", "write the entries to this file (default: standard output)")
	cases := fs.String("cases", "", "write the labelled cases and the clean shipment references to this JSON file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	first, err := time.Parse(time.DateOnly, *start)
	if err != nil {
		return fmt.Errorf("--start: %w", err)
	}
	sc := scenario.Generate(scenario.Config{Seed: *seed, Start: first, Days: *days, Companies: *companies, ShipmentsPerMonth: *perMonth})

	if err := writeFile(*out, stdout, func(w io.Writer) error { return writeItems(w, sc.Items) }); err != nil {
		return err
	}
	if *cases != "" {
		return writeFile(*cases, nil, func(w io.Writer) error { return writeCases(w, *seed, sc) })
	}
	return nil
}

// writeFile runs write on the named file, or on fallback when name is
// empty, and reports the first error, closing included.
func writeFile(name string, fallback io.Writer, write func(io.Writer) error) error {
	if name == "" {
		bw := bufio.NewWriter(fallback)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

type line struct {
	Member   string          `json:"member"`
	Time     string          `json:"time"`
	Event    json.RawMessage `json:"event,omitempty"`
	Registry json.RawMessage `json:"registry,omitempty"`
}

func writeItems(w io.Writer, items []scenario.Item) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i, it := range items {
		l := line{Member: it.Member, Time: it.Time.UTC().Format(time.RFC3339)}
		var err error
		if it.Event != nil {
			l.Event, err = compactJSON(it.Event)
		} else {
			l.Registry, err = compactJSON(it.Registry)
		}
		if err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// compactJSON is m in protojson with the white space protojson varies on
// purpose removed, so the same year always gives the same bytes.
func compactJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type caseJSON struct {
	RuleID      string `json:"rule_id"`
	ShipmentRef string `json:"shipment_ref"`
	Subject     string `json:"subject"`
	Note        string `json:"note"`
}

func writeCases(w io.Writer, seed uint64, sc scenario.Scenario) error {
	out := struct {
		Seed           uint64     `json:"seed"`
		Cases          []caseJSON `json:"cases"`
		CleanShipments []string   `json:"clean_shipments"`
	}{Seed: seed, CleanShipments: sc.CleanShipments}
	for _, c := range sc.Cases {
		out.Cases = append(out.Cases, caseJSON(c))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

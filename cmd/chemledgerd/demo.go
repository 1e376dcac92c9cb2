package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// runDemo shows a newcomer the service doing its job: it submits the
// examples through the public gRPC API as the demo member agencies (the
// registry first, then the shipment events), checks every receipt's signed
// checkpoint and inclusion proof, proves the log grew consistently, lists
// the diversion flags the detector raised, and says how to look further.
// path is a directory holding registry.jsonl and events.jsonl, one file of
// events, or "scenario" for a generated year of trade.
func runDemo(ctx context.Context, path string, d *demoConns, out io.Writer) error {
	defer d.close()
	if path == "scenario" {
		return runScenarioDemo(ctx, d, out)
	}
	registry, events := "", path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		registry, events = filepath.Join(path, "registry.jsonl"), filepath.Join(path, "events.jsonl")
		if _, err := os.Stat(registry); errors.Is(err, fs.ErrNotExist) {
			registry = ""
		}
	}
	// Any member's client checks checkpoints the same way; the first
	// keeps the checkpoint seen before the demo.
	c, err := d.submitter(demoAs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, kept, err := c.Checkpoint(ctx)
	if err != nil {
		return err
	}
	keys := keyring{layout: d.layout, keys: map[string]members.PrivateKey{}, conns: d}

	n := 0
	if registry != "" {
		fmt.Fprintf(out, "\n== demo: the registry (%s), signed by the issuing countries' agencies ==\n", registry)
		f, err := os.Open(registry)
		if err != nil {
			return err
		}
		defer f.Close()
		for line := range eventfile.ReadRegistry(f) {
			if line.Err != nil {
				return line.Err
			}
			member, err := eventfile.DemoMemberForRegistry(line.Entry)
			if err != nil {
				return fmt.Errorf("%s line %d: %w", registry, line.Number, err)
			}
			r, err := keys.submit(ctx, member, envelope.PayloadTypeRegistryJSON, line.Raw, eventfile.RegistrySubmissionID(member, line))
			if err != nil {
				return fmt.Errorf("%s line %d: %w", registry, line.Number, err)
			}
			n++
			fmt.Fprintf(out, "  entry %3d  %-9s %-26s receipt verified (checkpoint %d)\n", r.Index, member, registryWhat(line.Entry), r.Checkpoint.Size)
		}
	}

	fmt.Fprintf(out, "\n== demo: shipment events (%s), each signed by the agency of the country that reports it ==\n", events)
	f, err := os.Open(events)
	if err != nil {
		return err
	}
	defer f.Close()
	for line := range eventfile.Read(f) {
		if line.Err != nil {
			return line.Err
		}
		member, err := eventfile.DemoMemberFor(line.Event)
		if err != nil {
			return fmt.Errorf("line %d: %w", line.Number, err)
		}
		r, err := keys.submit(ctx, member, envelope.PayloadTypeEventJSON, line.Raw, eventfile.SubmissionID(member, line))
		if err != nil {
			return fmt.Errorf("line %d: %w", line.Number, err)
		}
		n++
		ev := line.Event
		fmt.Fprintf(out, "  entry %3d  %-9s %-21s %-26s %9.1f %s  receipt verified (checkpoint %d)\n",
			r.Index, member, ev.GetShipmentRef(), ev.GetKind().String()[len("EVENT_KIND_"):],
			ev.GetQuantity().GetValue(), ev.GetQuantity().GetUnit(), r.Checkpoint.Size)
	}
	latest, _, err := c.VerifyConsistency(ctx, kept)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== %d entries submitted; every receipt's checkpoint signature and inclusion proof verified;\n", n)
	fmt.Fprintf(out, "   the log of %d entries is consistent with the checkpoint kept before the demo ==\n", latest.Size)

	if err := printFlags(ctx, d, latest.Size, out); err != nil {
		return err
	}
	curl, base := d.curl()
	fmt.Fprintf(out, "\nLook further (as %s's analyst, with its development certificate):\n", demoAs)
	fmt.Fprintf(out, "  %s %s/v1/checkpoint\n", curl, base)
	fmt.Fprintf(out, "  %s %s/v1/shipments/PEN-CN-2026-000871\n", curl, base)
	fmt.Fprintf(out, "  %s '%s/v1/flags?order_by=severity%%20desc'\n", curl, base)
	fmt.Fprintf(out, "  go run ./cmd/chemledger list --filter 'kind = RECEIPT_CONFIRMATION'\n")
	fmt.Fprintf(out, "  go run ./cmd/chemledger verify inclusion 3\n")
	fmt.Fprintf(out, "The service keeps running; stop it with Ctrl-C.\n\n")
	return nil
}

// keyring signs as the demo members, reading each key once, and submits
// over each member's own connection.
type keyring struct {
	layout datadir.Layout
	keys   map[string]members.PrivateKey
	conns  *demoConns
}

// key is member's private key, read once.
func (k keyring) key(member string) (members.PrivateKey, error) {
	key, ok := k.keys[member]
	if !ok {
		var err error
		if key, err = members.ReadPrivateKey(k.layout.MemberKey(member)); err != nil {
			return members.PrivateKey{}, err
		}
		k.keys[member] = key
	}
	return key, nil
}

func (k keyring) submit(ctx context.Context, member, payloadType string, payload []byte, id string) (*client.Receipt, error) {
	c, err := k.conns.submitter(member)
	if err != nil {
		return nil, err
	}
	key, err := k.key(member)
	if err != nil {
		return nil, err
	}
	env, err := envelope.Sign(payloadType, payload, key.Signer())
	if err != nil {
		return nil, err
	}
	return c.SubmitEnvelope(ctx, id, env)
}

func registryWhat(e *chemledgerv1.RegistryEntry) string {
	switch {
	case e.GetLicence() != nil:
		return "licence " + e.GetLicence().GetNumber()
	case e.GetAnnualRequirement() != nil:
		return "annual requirement " + e.GetAnnualRequirement().GetCountry()
	case e.GetWatchListEntry() != nil:
		return "watch list " + e.GetWatchListEntry().GetList()
	}
	return "registry entry"
}

// printFlags waits for the detector to reach size (it follows the log a
// moment behind the commits; /healthz says how far it has read) and prints
// what it flagged, most severe first.
func printFlags(ctx context.Context, d *demoConns, size uint64, out io.Writer) error {
	if err := waitDetector(ctx, d, size); err != nil {
		return err
	}
	conn, err := d.analyst()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := chemledgerv1.NewAnalystServiceClient(conn).ListFlags(ctx, &chemledgerv1.ListFlagsRequest{OrderBy: "severity desc", PageSize: 100})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== the detector raised %d flags; each names its rule, thresholds and evidence ==\n", len(resp.GetFlags()))
	for _, f := range resp.GetFlags() {
		sev := f.GetSeverity().String()[len("SEVERITY_"):]
		fmt.Fprintf(out, "  %-8s %-4s %-21s evidence %v\n           %s\n", sev, f.GetRuleId(), f.GetShipmentRef(), f.GetEvidence(), wrap(f.GetExplanation(), 100, "           "))
	}
	return nil
}

func detectorApplied(ctx context.Context, d *demoConns) (uint64, error) {
	hc, base, err := d.http()
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/healthz", nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		Applied uint64 `json:"detector_applied"`
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h.Applied, err
}

// wrap breaks text into lines of at most width, indenting continuation
// lines.
func wrap(text string, width int, indent string) string {
	var b []byte
	col := 0
	for i, w := range splitWords(text) {
		if i > 0 {
			if col+1+len(w) > width {
				b = append(b, '\n')
				b = append(b, indent...)
				col = 0
			} else {
				b = append(b, ' ')
				col++
			}
		}
		b = append(b, w...)
		col += len(w)
	}
	return string(b)
}

func splitWords(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		if r == ' ' || r == '\n' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

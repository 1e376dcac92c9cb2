package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/detect/scenario"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// runScenarioDemo submits a generated year of trade (detect/scenario: a
// dozen countries, forty-five companies, labelled diversion cases) over
// bulk streams, then shows what the detector made of it.
func runScenarioDemo(ctx context.Context, d *demoConns, out io.Writer) error {
	sc := scenario.Generate(scenario.DefaultConfig())
	keys := keyring{layout: d.layout, keys: map[string]members.PrivateKey{}, conns: d}
	// A member submits only as itself: consecutive items of one member
	// make a run, sent over that member's stream, in the year's order.
	type run struct {
		member string
		items  []client.Item
	}
	var runs []run
	for _, it := range sc.Items {
		key, err := keys.key(it.Member)
		if err != nil {
			return err
		}
		// Deterministic protobuf, so that a second run sends the same
		// bytes and changes nothing.
		var (
			msg         proto.Message
			payloadType string
			id          string
		)
		if it.Event != nil {
			msg, payloadType, id = it.Event, envelope.PayloadTypeEventProto, it.Event.GetEventId()
		} else {
			msg, payloadType, id = it.Registry, envelope.PayloadTypeRegistryProto, it.Registry.GetEntryId()
		}
		payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		if err != nil {
			return err
		}
		env, err := envelope.Sign(payloadType, payload, key.Signer())
		if err != nil {
			return err
		}
		if len(runs) == 0 || runs[len(runs)-1].member != it.Member {
			runs = append(runs, run{member: it.Member})
		}
		r := &runs[len(runs)-1]
		r.items = append(r.items, client.Item{SubmissionID: it.Member + ":" + id, Envelope: env})
	}

	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	fmt.Fprintf(out, "\n== demo: a generated year of trade — %d entries, %d labelled diversion cases, over bulk streams, each member on its own connection ==\n", len(sc.Items), len(sc.Cases))
	start := time.Now()
	var accepted, refused int
	var last client.BulkResult
	for _, rn := range runs {
		c, err := d.submitter(rn.member)
		if err != nil {
			return err
		}
		if err := c.SubmitStream(ctx, slices.Values(rn.items), func(r client.BulkResult) {
			if r.Err != nil {
				refused++
				if refused <= 3 {
					fmt.Fprintf(out, "  refused %s: %v\n", r.SubmissionID, r.Err)
				}
				return
			}
			accepted++
			last = r
		}); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "== %d accepted, %d refused in %v; every batch checkpoint verified (last: size %d) ==\n",
		accepted, refused, time.Since(start).Round(time.Millisecond), last.Checkpoint.Size)

	if err := waitDetector(ctx, d, last.Checkpoint.Size); err != nil {
		return err
	}
	conn, err := d.analyst()
	if err != nil {
		return err
	}
	defer conn.Close()
	analyst := chemledgerv1.NewAnalystServiceClient(conn)
	stats, err := analyst.GetStats(ctx, &chemledgerv1.GetStatsRequest{})
	if err != nil {
		return err
	}
	// A shipment that joins a flagged pattern gets a linked flag; a case
	// is one finding, so count the flags that open one.
	opening, linked := map[string]int{}, map[string]int{}
	for tok := ""; ; {
		page, err := analyst.ListFlags(ctx, &chemledgerv1.ListFlagsRequest{PageSize: 500, PageToken: tok})
		if err != nil {
			return err
		}
		for _, f := range page.GetFlags() {
			if f.GetJoins() == "" {
				opening[f.GetRuleId()]++
			} else {
				linked[f.GetRuleId()]++
			}
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	want := map[string]int{}
	for _, cs := range sc.Cases {
		want[cs.RuleID]++
	}
	fmt.Fprintf(out, "\n== the detector raised %d flags; findings by rule (labelled cases injected per rule in brackets) ==\n", stats.GetTotal())
	for _, r := range stats.GetByRule() {
		line := fmt.Sprintf("  %-4s %5d   [%d]", r.GetKey(), opening[r.GetKey()], want[r.GetKey()])
		if n := linked[r.GetKey()]; n > 0 {
			line += fmt.Sprintf("\n       + %d shipments linked to a flagged pattern", n)
		}
		fmt.Fprintln(out, line)
	}
	curl, base := d.curl()
	fmt.Fprintf(out, "Open one: %s '%s/v1/flags?order_by=severity%%20desc&page_size=5'\n", curl, base)
	fmt.Fprintf(out, "      or: go run ./cmd/chemledger --data-dir %s flags list\n\n", d.layout.Dir)
	return nil
}

// waitDetector waits until /healthz says the detector has read size entries.
func waitDetector(ctx context.Context, d *demoConns, size uint64) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		applied, err := detectorApplied(ctx, d)
		if err != nil {
			return err
		}
		if applied >= size {
			return nil
		}
	}
	return fmt.Errorf("the detector did not reach entry %d within a minute", size)
}

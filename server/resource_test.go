package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage"
)

// When the disk is full, a submission gets RESOURCE_EXHAUSTED and no
// receipt, nothing half-written appears, health says the ledger is degraded,
// and once space returns the next submission succeeds.
func TestDiskFull(t *testing.T) {
	const capBytes = 4 << 20
	in, err := servertest.Start(t.TempDir(), servertest.Options{
		NoDetection: true,
		Storage: func(o *storage.Options) {
			o.MaxSize = capBytes
			o.InitialMmapSize = 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	c := ledgerClient(t, in)
	ex := signedExamples(t, in)[0]

	var full error
	var accepted uint64
	for i := 0; full == nil && i < 20000; i++ {
		ev := proto.Clone(ex.line.Event).(*chemledgerv1.ShipmentEvent)
		ev.EventId = fmt.Sprintf("FILL-%06d", i)
		ev.Remarks = fmt.Sprintf("%03000d", i)
		payload, _ := proto.Marshal(ev)
		_, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{
			SubmissionId: ev.EventId, Envelope: signAs(t, in, ex.member, envelope.PayloadTypeEventProto, payload),
		})
		if err != nil {
			full = err
			break
		}
		accepted++
	}
	if status.Code(full) != codes.ResourceExhausted || detailsOf(status.Convert(full)).reason != "NO_SPACE" {
		t.Fatalf("after %d entries: %v, want RESOURCE_EXHAUSTED / NO_SPACE", accepted, full)
	}
	if got := logSize(t, c); got != accepted {
		t.Fatalf("log size %d after the failed commit, want %d (no half entry)", got, accepted)
	}
	if _, err := c.GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: accepted}); status.Code(err) != codes.NotFound {
		t.Fatalf("entry %d after the failed commit: %v, want NOT_FOUND", accepted, err)
	}
	// Over HTTP a full disk is 507 Insufficient Storage, not 429: it is
	// not the caller's rate. Idempotency records are keyed by a digest,
	// so where a record lands in its bucket, and whether one more entry
	// still fits a nearly full file, is not known in advance: post until
	// one does not fit.
	for i := 0; ; i++ {
		ev := proto.Clone(ex.line.Event).(*chemledgerv1.ShipmentEvent)
		ev.EventId, ev.Remarks = fmt.Sprintf("FILL-HTTP-%d", i), fmt.Sprintf("%03000d", 0)
		payload, _ := proto.Marshal(ev)
		code, b := postEntry(t, in, entryBody(ev.EventId, signAs(t, in, ex.member, envelope.PayloadTypeEventProto, payload)))
		if code == http.StatusOK && i < 100 {
			accepted++
			continue
		}
		if code != http.StatusInsufficientStorage {
			t.Errorf("POST /v1/entries while full (%d accepted since the first refusal): %d %s, want 507", i, code, b)
		}
		break
	}
	code, _, body := httpCall(t, http.MethodGet, "http://"+in.HTTPAddr+"/healthz", nil, nil)
	var h map[string]any
	json.Unmarshal(body, &h)
	if code != http.StatusServiceUnavailable || h["status"] != "DEGRADED" {
		t.Fatalf("healthz while full: %d %s, want 503 DEGRADED", code, body)
	}

	if err := in.Store.SetMaxSize(0); err != nil {
		t.Fatal(err)
	}
	r, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: ex.env})
	if err != nil {
		t.Fatalf("submit once space returned: %v", err)
	}
	if r.GetIndex() != accepted {
		t.Fatalf("index %d once space returned, want %d", r.GetIndex(), accepted)
	}
	if code, _, body := httpCall(t, http.MethodGet, "http://"+in.HTTPAddr+"/healthz", nil, nil); code != http.StatusOK {
		t.Fatalf("healthz after recovery: %d %s", code, body)
	}
	if err := in.Store.Check(); err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
}

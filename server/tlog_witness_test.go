package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/internal/cosign"
	"github.com/chemledger/chemledger/internal/cosign/cosigntest"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/witness"
)

// TestCosignedCheckpointReadByStandardVerifiers: with witnessing on, the
// checkpoint on /tlog/checkpoint, GET /v1/checkpoint and GetCheckpoint is
// one note with the log's signature and the witnesses' cosignatures; the
// cosignatures verify with transparency-dev/formats' cosignature/v1
// verifier and the log's with sumdb/note, and sumdb/tlog proves entries
// against it from the tiles.
func TestCosignedCheckpointReadByStandardVerifiers(t *testing.T) {
	var feeder *cosign.Feeder
	var ws []*cosigntest.Witness
	var policy *witness.Policy
	opts := servertest.Options{Checkpoints: func(l *ledger.Ledger) server.CheckpointSource {
		var text strings.Builder
		for i := range 2 {
			w, err := cosigntest.Start(fmt.Sprintf("w%d.test", i+1), l.Verifier())
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, w)
			text.WriteString(w.PolicyLine(fmt.Sprintf("w%d", i+1)))
		}
		text.WriteString("group g all w1 w2\nquorum g\n")
		var err error
		if policy, err = witness.ParsePolicy([]byte(text.String())); err != nil {
			t.Fatal(err)
		}
		cfg := cosign.DefaultConfig(policy)
		cfg.Interval = 20 * time.Millisecond
		if feeder, err = cosign.New(l, cfg); err != nil {
			t.Fatal(err)
		}
		return feeder
	}}
	s := startSecured(t, t.TempDir(), opts)
	for _, w := range ws {
		t.Cleanup(w.Close)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go feeder.Run(ctx)

	const n = 300
	imp := usImport(t, s.in)
	var items []bulkItem
	for i := range n {
		items = append(items, importNamed(t, s.in, imp, fmt.Sprintf("UCR-COSIGN-%04d", i)))
	}
	checkBulk(t, items, runBulk(t, s.ledger(t, "US-CBP", pki.RoleSubmitter), items), 0)
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	if _, _, err := feeder.WaitServed(wctx, n); err != nil {
		t.Fatalf("no witnessed checkpoint of %d entries: %v", n, err)
	}

	code, _, body := s.do(t, "MX-ANAM", pki.RoleAuditor, "GET", "/tlog/checkpoint", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /tlog/checkpoint: %d %s", code, body)
	}
	logV, err := note.NewVerifier(s.in.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	verifiers := []note.Verifier{logV}
	for _, w := range ws {
		v, err := fnote.NewVerifierForCosignatureV1(w.VKey)
		if err != nil {
			t.Fatal(err)
		}
		verifiers = append(verifiers, v)
	}
	opened, err := note.Open(body, note.VerifierList(verifiers...))
	if err != nil || len(opened.Sigs) != 3 {
		t.Fatalf("the served checkpoint does not carry the log's and both witnesses' signatures (%v):\n%s", err, body)
	}
	for _, sig := range opened.Sigs[1:] {
		if ts, err := fnote.CoSigV1Timestamp(sig); err != nil || time.Since(ts) > time.Minute {
			t.Errorf("cosignature of %s: timestamp %v, %v", sig.Name, ts, err)
		}
	}
	if err := policy.Check(body); err != nil {
		t.Errorf("policy check of the served checkpoint: %v", err)
	}
	// The same note on the other two surfaces.
	pb, err := s.ledger(t, "MX-ANAM", pki.RoleAuditor).GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{})
	if err != nil || pb.GetNote() != string(body) {
		t.Errorf("GetCheckpoint: %v\n%s\nwant\n%s", err, pb.GetNote(), body)
	}
	if code, _, b := s.do(t, "MX-ANAM", pki.RoleAuditor, "GET", "/v1/checkpoint", nil); code != 200 || string(b) != string(body) {
		t.Errorf("GET /v1/checkpoint: %d\n%s\nwant\n%s", code, b, body)
	}

	cp, err := checkpoint.Open(body, s.in.Ledger.Origin(), logV)
	if err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: int64(cp.Size), Hash: tlog.Hash(cp.Root)}
	hr := tlog.TileHashReader(tree, &tileFetcher{t: t, s: s, member: "MX-ANAM", role: pki.RoleAuditor})
	leaves := levelZero(t, s, int(cp.Size))
	for _, i := range []int{0, 1, 255, 256, int(cp.Size) - 1} {
		p, err := tlog.ProveRecord(tree.N, int64(i), hr)
		if err != nil {
			t.Fatalf("ProveRecord(%d) against the cosigned checkpoint: %v", i, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, int64(i), leaves[i]); err != nil {
			t.Fatalf("CheckRecord(%d): %v", i, err)
		}
	}
}

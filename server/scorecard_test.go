package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/scorecard"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// TestScorecardDrillDown: the scorecard names the signed checkpoint it was
// computed at, and every figure's drill-down returns as many entries as the
// figure says, each with the leaf hash the log holds for that index.
func TestScorecardDrillDown(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	submitExamplesTLS(t, s)
	conn := s.conn(t, "MX-ANAM", pki.RoleAuditor)
	sc := chemledgerv1.NewScorecardServiceClient(conn)
	ctx := t.Context()
	if _, err := sc.GetScorecard(ctx, &chemledgerv1.GetScorecardRequest{Period: "2026-Q5"}); err == nil {
		t.Fatal("period 2026-Q5 accepted")
	}
	card, err := sc.GetScorecard(ctx, &chemledgerv1.GetScorecardRequest{Period: "2026"})
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(card.GetCheckpoint(), "\n\n")
	cp, err := checkpoint.Parse(body + "\n")
	if err != nil {
		t.Fatalf("checkpoint of the card: %v\n%s", err, card.GetCheckpoint())
	}
	if cp.Size != card.GetTreeSize() || cp.Size == 0 {
		t.Fatalf("card at size %d, its checkpoint at %d", card.GetTreeSize(), cp.Size)
	}
	if len(card.GetRows()) == 0 || len(card.GetDefinitions()) == 0 {
		t.Fatalf("empty card: %d rows, %d definitions", len(card.GetRows()), len(card.GetDefinitions()))
	}
	checked := 0
	lc := s.ledger(t, "MX-ANAM", pki.RoleAuditor)
	for _, row := range card.GetRows() {
		for _, f := range row.GetFigures() {
			if f.GetEntryCount() == 0 {
				continue
			}
			got, err := sc.ListScorecardEntries(ctx, &chemledgerv1.ListScorecardEntriesRequest{Member: row.GetMember(), Month: row.GetMonth(), Indicator: f.GetIndicator()})
			if err != nil {
				t.Fatalf("%s %s %s: %v", row.GetMember(), row.GetMonth(), f.GetIndicator(), err)
			}
			if uint64(len(got.GetEntries())) != f.GetEntryCount() {
				t.Errorf("%s %s %s: %d entries, the figure says %d", row.GetMember(), row.GetMonth(), f.GetIndicator(), len(got.GetEntries()), f.GetEntryCount())
			}
			for _, e := range got.GetEntries() {
				le, err := lc.GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: e.GetIndex()})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(le.GetLeafHash(), e.GetLeafHash()) {
					t.Errorf("entry %d: drill-down leaf hash %x, the log's %x", e.GetIndex(), e.GetLeafHash(), le.GetLeafHash())
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no figure counts any entry")
	}
	code, _, resp := s.do(t, "MX-ANAM", pki.RoleAnalyst, http.MethodGet, "/v1/scorecard?period=2026&member=US-CBP", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/scorecard: %d %s", code, resp)
	}
	var doc struct {
		Rows []struct{ Member string } `json:"rows"`
	}
	if err := json.Unmarshal(resp, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Rows {
		if r.Member != "US-CBP" {
			t.Fatalf("member=US-CBP returned a row of %s", r.Member)
		}
	}
	if len(doc.Rows) == 0 {
		t.Fatal("no rows for US-CBP")
	}

	// A rebuild of the derived state leaves the figures byte for byte as
	// they were, and so does computing them afresh from the store.
	before, err := json.Marshal(card)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.in.Deriver.Rebuild(time.Time{}); err != nil {
		t.Fatal(err)
	}
	again, err := sc.GetScorecard(ctx, &chemledgerv1.GetScorecardRequest{Period: "2026"})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(again)
	if !bytes.Equal(before, after) {
		t.Fatal("the scorecard changed across a rebuild of the derived state")
	}
	a, err := scorecard.FromLedger(ctx, s.in.Ledger, server.ScorecardMembers(s.in.Members), detect.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	b, err := scorecard.FromLedger(ctx, s.in.Ledger, server.ScorecardMembers(s.in.Members), detect.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a.Card)
	jb, _ := json.Marshal(b.Card)
	if !bytes.Equal(ja, jb) || len(ja) < 100 {
		t.Fatalf("two computations from the store differ (%d, %d bytes)", len(ja), len(jb))
	}
}

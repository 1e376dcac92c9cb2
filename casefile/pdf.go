package casefile

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/envelope"
)

// pdfTime stands in for the creation time fpdf would take from the clock,
// so the same case gives the same case.pdf.
var pdfTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// RenderPDF renders case.pdf: the finding in plain words, the shipment
// timeline from the evidence, the evidence table with indexes and leaf
// hashes, the checkpoint, and how to verify. It uses only the PDF core
// fonts (Helvetica, Courier), so it embeds nothing and renders the same
// everywhere.
func RenderPDF(c *Case) ([]byte, error) {
	cp, err := checkpoint.Parse(noteBody(c.Checkpoint))
	if err != nil {
		return nil, err
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(pdfTime)
	pdf.SetModificationDate(pdfTime)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	f := c.Flag
	pdf.SetTitle("Case file "+f.GetId(), false)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("Case %s - checkpoint %s at size %d - page %d", f.GetId(), cp.Origin, cp.Size, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	h1 := func(s string) {
		pdf.Ln(3)
		pdf.SetFont("Helvetica", "B", 13)
		pdf.CellFormat(0, 8, tr(s), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
	}
	para := func(s string) { pdf.MultiCell(0, 5, tr(s), "", "L", false) }

	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(0, 10, tr("Case file "+f.GetId()), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	para(fmt.Sprintf("Rule %s version %d, severity %s, policy %s. Raised %s. Status %s.",
		f.GetRuleId(), f.GetRuleVersion(), strings.TrimPrefix(f.GetSeverity().String(), "SEVERITY_"), f.GetPolicyVersion(),
		f.GetRaisedTime().AsTime().UTC().Format("2 January 2006 15:04 UTC"), strings.TrimPrefix(f.GetStatus().String(), "FLAG_STATUS_")))
	if f.GetShipmentRef() != "" {
		para("Shipment " + f.GetShipmentRef() + ".")
	}

	h1("The finding")
	para(f.GetExplanation())
	if len(f.GetThresholds()) > 0 {
		var ts []string
		for _, t := range f.GetThresholds() {
			ts = append(ts, t.GetName()+" = "+t.GetValue())
		}
		para("Thresholds used: " + strings.Join(ts, "; ") + ".")
	}
	if cv := Caveats[f.GetRuleId()]; cv != "" {
		para("What this file cannot show: " + cv)
	}

	h1("Shipment timeline")
	type row struct {
		at                   time.Time
		index                uint64
		kind, member, detail string
	}
	var rows []row
	for _, e := range c.Entries {
		env, err := envelope.Parse(e.Leaf)
		if err != nil {
			continue
		}
		p, err := envelope.DecodePayload(env)
		if err != nil || p.Event == nil {
			continue
		}
		ev := p.Event
		at := e.IntegratedTime
		if ev.GetOccurredTime() != nil {
			at = ev.GetOccurredTime().AsTime()
		}
		detail := fmt.Sprintf("%s %g %s", ev.GetChemical().GetName(), ev.GetQuantity().GetValue(), ev.GetQuantity().GetUnit())
		if r := ev.GetPenReply(); r != 0 {
			detail += ", " + strings.ToLower(strings.TrimPrefix(r.String(), "PEN_REPLY_"))
		}
		rows = append(rows, row{at.UTC(), e.Index, strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(ev.GetKind().String(), "EVENT_KIND_"), "_", " ")), e.Member, detail})
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].at.Before(rows[j].at) || rows[i].at.Equal(rows[j].at) && rows[i].index < rows[j].index
	})
	pdf.SetFont("Helvetica", "B", 9)
	for i, h := range []string{"occurred (UTC)", "entry", "event", "reported by", "what"} {
		pdf.CellFormat([]float64{32, 14, 40, 26, 78}[i], 6, h, "B", 0, "L", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 9)
	for _, r := range rows {
		for i, s := range []string{r.at.Format("2006-01-02 15:04"), fmt.Sprint(r.index), r.kind, r.member, r.detail} {
			pdf.CellFormat([]float64{32, 14, 40, 26, 78}[i], 5.5, tr(s), "", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}

	h1("Evidence and registry entries")
	para(fmt.Sprintf("Every entry below is in entries/N.dsse as the exact signed bytes, with its inclusion proof at tree size %d in proofs/N.json.", cp.Size))
	pdf.SetFont("Helvetica", "B", 9)
	for i, h := range []string{"index", "role", "signer", "leaf hash (SHA-256, RFC 6962)"} {
		pdf.CellFormat([]float64{16, 22, 26, 126}[i], 6, h, "B", 0, "L", false, 0, "")
	}
	pdf.Ln(-1)
	for _, e := range c.Entries {
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(16, 5.5, fmt.Sprint(e.Index), "", 0, "L", false, 0, "")
		pdf.CellFormat(22, 5.5, e.Role, "", 0, "L", false, 0, "")
		pdf.CellFormat(26, 5.5, e.Member, "", 0, "L", false, 0, "")
		pdf.SetFont("Courier", "", 7.5)
		pdf.CellFormat(126, 5.5, hex.EncodeToString(checkpoint.LeafHash(e.Leaf)), "", 1, "L", false, 0, "")
	}
	pdf.SetFont("Helvetica", "", 10)
	if len(f.GetStatusHistory()) > 0 {
		h1("Dispositions")
		for _, h := range f.GetStatusHistory() {
			para(fmt.Sprintf("%s: %s by %s (entry %d): %s", h.GetTime().AsTime().UTC().Format("2006-01-02"),
				strings.TrimPrefix(h.GetStatus().String(), "FLAG_STATUS_"), h.GetMember(), h.GetIndex(), h.GetNote()))
		}
	}

	h1("The checkpoint")
	pdf.SetFont("Courier", "", 8)
	pdf.MultiCell(0, 4, tr(string(c.Checkpoint)), "", "L", false)
	pdf.SetFont("Helvetica", "", 10)

	h1("How to verify")
	para("With chemledger: chemledger case verify case.zip --log-key KEY (KEY from your own copy of the log). " +
		"It checks every file against case.json, the checkpoint signature (and witness cosignatures under a policy), " +
		"every inclusion proof, every DSSE signature against the member keys in force at its index, and re-runs the detector " +
		"over the bundled entries in index order. Without chemledger: README.md in this zip gives the steps with " +
		"golang.org/x/mod/sumdb/note and sumdb/tlog.")
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package report

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/chemledger/chemledger/scorecard"
)

// docTime stands in for fpdf's creation date, which would be the clock.
var docTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// PDF renders the review as a PDF.
func (r *Review) PDF() ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(docTime)
	pdf.SetModificationDate(docTime)
	pdf.SetCatalogSort(true)
	pdf.SetTitle("Coalition review "+r.Period.Name, false)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	digest := r.Digest()
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("Review %s - digest %s... - page %d", r.Period.Name, digest[:16], pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	para := func(s string) { pdf.MultiCell(0, 5, tr(s), "", "L", false); pdf.Ln(1) }
	h1 := func(s string) {
		pdf.SetFont("Helvetica", "B", 15)
		pdf.CellFormat(0, 9, tr(s), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
	}

	// Cover.
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 24)
	pdf.Ln(20)
	pdf.CellFormat(0, 12, tr("Coalition review "+r.Period.Name), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 11)
	pdf.CellFormat(0, 7, tr(fmt.Sprintf("Months %s; %d members; computed at tree size %d, as of %s.",
		strings.Join(r.Period.Months(), ", "), len(r.members()), r.Card.Checkpoint.Size, r.Card.AsOf.UTC().Format("2 January 2006 15:04 UTC"))), "", 1, "L", false, 0, "")
	pdf.Ln(6)
	h1("Checkpoint")
	para("The figures were computed from the log at this checkpoint, shown as signed, with every cosignature it carries:")
	pdf.SetFont("Courier", "", 8)
	pdf.MultiCell(0, 4, tr(r.Checkpoint), "1", "L", false)
	pdf.Ln(4)
	h1("Digest")
	pdf.SetFont("Courier", "B", 9)
	pdf.CellFormat(0, 6, "SHA-256 "+digest, "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	para("It covers the period, the checkpoint's signed body (which commits to every input entry), the detection policy version (" + r.PolicyVersion + "), the indicator definitions and every figure of every member and month in this report, with how many entries and flags each counts. The methodology page says exactly how.")

	// A page per indicator.
	for i, d := range r.Card.Definitions {
		pdf.AddPage()
		h1(d.Title)
		para(d.Words)
		p, err := r.chart(d)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", d.ID, err)
		}
		png, err := render(p, "png", i)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", d.ID, err)
		}
		pdf.RegisterImageOptionsReader(d.ID, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
		pdf.ImageOptions(d.ID, 15, pdf.GetY()+2, 180, 0, true, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		pdf.Ln(3)
		// The period's figures under the chart.
		r.pdfTable(pdf, tr, d.ID)
	}

	// A table per member.
	for _, m := range r.members() {
		pdf.AddPage()
		h1("Member " + m)
		r.pdfMemberTable(pdf, tr, m)
	}

	pdf.AddPage()
	h1("Methodology")
	for _, s := range r.Methodology() {
		para(s)
	}
	h1("Definitions")
	for _, d := range r.Card.Definitions {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.MultiCell(0, 5, tr(d.Title+" ("+d.ID+", "+d.Unit+")"), "", "L", false)
		pdf.SetFont("Helvetica", "", 9.5)
		pdf.MultiCell(0, 4.6, tr(d.Words), "", "L", false)
		pdf.Ln(1.5)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (r *Review) members() []string { return r.series("").members }

// pdfTable draws members × the period's months for one indicator.
func (r *Review) pdfTable(pdf *fpdf.Fpdf, tr func(string) string, id string) {
	months := r.Period.Months()
	def := r.definition(id)
	w := 150.0 / float64(len(months))
	pdf.SetFont("Helvetica", "B", 9)
	pdf.CellFormat(30, 6, "member", "B", 0, "L", false, 0, "")
	for _, m := range months {
		pdf.CellFormat(w, 6, m, "B", 0, "R", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 9)
	for _, mem := range r.members() {
		pdf.CellFormat(30, 5.5, mem, "", 0, "L", false, 0, "")
		for _, m := range months {
			f, _ := r.Card.Figure(mem, m, def.ID)
			pdf.CellFormat(w, 5.5, tr(format(def, f)), "", 0, "R", false, 0, "")
		}
		pdf.Ln(-1)
	}
}

// pdfMemberTable draws indicators × the period's months for one member.
func (r *Review) pdfMemberTable(pdf *fpdf.Fpdf, tr func(string) string, member string) {
	months := r.Period.Months()
	w := 90.0 / float64(len(months))
	pdf.SetFont("Helvetica", "B", 9)
	pdf.CellFormat(95, 6, "indicator", "B", 0, "L", false, 0, "")
	for _, m := range months {
		pdf.CellFormat(w, 6, m, "B", 0, "R", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 9)
	for _, d := range r.Card.Definitions {
		pdf.CellFormat(95, 5.5, tr(d.Title), "", 0, "L", false, 0, "")
		for _, m := range months {
			f, _ := r.Card.Figure(member, m, d.ID)
			pdf.CellFormat(w, 5.5, tr(format(d, f)), "", 0, "R", false, 0, "")
		}
		pdf.Ln(-1)
	}
}

func (r *Review) definition(id string) scorecard.Definition {
	for _, x := range r.Card.Definitions {
		if x.ID == id {
			return x
		}
	}
	return scorecard.Definition{ID: id}
}

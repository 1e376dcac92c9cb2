package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/chemledger/chemledger/scorecard"
)

var page = template.Must(template.New("review").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Coalition review {{.Period}}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;color:#222}
pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap}table{border-collapse:collapse}
td,th{padding:.15em .6em;text-align:right}th:first-child,td:first-child{text-align:left}
th{border-bottom:1px solid #999}section{page-break-before:always}</style></head><body>
<h1>Coalition review {{.Period}}</h1>
<p>Months {{.Months}}; computed at tree size {{.Size}}, as of {{.AsOf}}.</p>
<h2>Checkpoint</h2><pre>{{.Checkpoint}}</pre>
<h2>Digest</h2><p><code>SHA-256 {{.Digest}}</code></p>
{{range .Indicators}}<section><h2>{{.Def.Title}}</h2><p>{{.Def.Words}}</p>{{.Chart}}
<table><tr><th>member</th>{{range $.MonthList}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Member}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>{{end}}</table></section>
{{end}}
{{range .Members}}<section><h2>Member {{.Member}}</h2>
<table><tr><th>indicator</th>{{range $.MonthList}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Member}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>{{end}}</table></section>
{{end}}
<section><h2>Methodology</h2>{{range .Methodology}}<p>{{.}}</p>{{end}}
<h2>Definitions</h2><dl>{{range .Defs}}<dt><b>{{.Title}}</b> ({{.ID}}, {{.Unit}})</dt><dd>{{.Words}}</dd>{{end}}</dl></section>
</body></html>
`))

type htmlRow struct {
	Member string
	Cells  []string
}

// HTML renders the review as one self-contained HTML page, charts inline
// as SVG.
func (r *Review) HTML(w io.Writer) error {
	months := r.Period.Months()
	type ind struct {
		Def   scorecard.Definition
		Chart template.HTML
		Rows  []htmlRow
	}
	type mem struct {
		Member string
		Rows   []htmlRow
	}
	var inds []ind
	for _, d := range r.Card.Definitions {
		p, err := r.chart(d)
		if err != nil {
			return fmt.Errorf("chart %s: %w", d.ID, err)
		}
		svg, err := render(p, "svg", 0)
		if err != nil {
			return fmt.Errorf("chart %s: %w", d.ID, err)
		}
		// The SVG is gonum's own output, not user input.
		s := string(svg)
		if i := strings.Index(s, "<svg"); i > 0 {
			s = s[i:]
		}
		in := ind{Def: d, Chart: template.HTML(s)}
		for _, m := range r.members() {
			row := htmlRow{Member: m}
			for _, mo := range months {
				f, _ := r.Card.Figure(m, mo, d.ID)
				row.Cells = append(row.Cells, format(d, f))
			}
			in.Rows = append(in.Rows, row)
		}
		inds = append(inds, in)
	}
	var mems []mem
	for _, m := range r.members() {
		mm := mem{Member: m}
		for _, d := range r.Card.Definitions {
			row := htmlRow{Member: d.Title}
			for _, mo := range months {
				f, _ := r.Card.Figure(m, mo, d.ID)
				row.Cells = append(row.Cells, format(d, f))
			}
			mm.Rows = append(mm.Rows, row)
		}
		mems = append(mems, mm)
	}
	return page.Execute(w, map[string]any{
		"Period": r.Period.Name, "Months": strings.Join(months, ", "), "MonthList": months,
		"Size": r.Card.Checkpoint.Size, "AsOf": r.Card.AsOf.UTC().Format("2 January 2006 15:04 UTC"),
		"Checkpoint": r.Checkpoint, "Digest": r.Digest(), "Indicators": inds, "Members": mems,
		"Methodology": r.Methodology(), "Defs": r.Card.Definitions,
	})
}

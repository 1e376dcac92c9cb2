package report

import (
	"bytes"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/chemledger/chemledger/scorecard"
)

// palette gives each member a fixed colour by its position in the sorted
// member list, so every chart uses the same colour for the same member.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

// chart draws one indicator: a line per member over the months, and the
// coalition median as a thick black dashed line.
func (r *Review) chart(d scorecard.Definition) (*plot.Plot, error) {
	s := r.series(d.ID)
	p := plot.New()
	p.Title.Text = d.Title
	p.Y.Label.Text = d.Unit
	p.Y.Min = 0
	var ticks []plot.Tick
	for i, m := range s.months {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: m[2:]})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.3, float64(max(len(s.months)-1, 1))+0.3
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	top := 0.0
	if d.Unit == "share" {
		top = 1
	}
	add := func(name string, vals []float64, ok []bool, c color.Color, width vg.Length, dashed bool) error {
		var xys plotter.XYs
		for i := range vals {
			if ok[i] {
				xys = append(xys, plotter.XY{X: float64(i), Y: vals[i]})
			}
		}
		if len(xys) == 0 {
			return nil
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, width
		pts.Color, pts.Radius, pts.Shape = c, vg.Points(1.6), draw.CircleGlyph{}
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l, pts)
		p.Legend.Add(name, l)
		top = max(top, maxOf(xys))
		return nil
	}
	for i, m := range s.members {
		if err := add(m, s.value[m], s.ok[m], palette[i%len(palette)], vg.Points(1), false); err != nil {
			return nil, err
		}
	}
	med, ok := s.median()
	if err := add("coalition median", med, ok, color.Black, vg.Points(2.2), true); err != nil {
		return nil, err
	}
	if top == 0 {
		top = 1
	}
	// The legend sits in the top right; the upper third of the chart is
	// kept clear for it, so it never hides a line.
	p.Y.Max = top * 1.5
	if d.Unit == "share" {
		p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0 %"}, {Value: 0.25, Label: "25 %"}, {Value: 0.5, Label: "50 %"}, {Value: 0.75, Label: "75 %"}, {Value: 1, Label: "100 %"}})
	}
	return p, nil
}

func maxOf(xys plotter.XYs) float64 {
	m := 0.0
	for _, xy := range xys {
		m = max(m, xy.Y)
	}
	return m
}

// render writes a chart in format ("png" or "svg") at 17 × 9.5 cm, plus
// nth pixels of width (at gonum's 96 dpi). fpdf writes its images in map
// order, stably sorted by pixel width only (SetCatalogSort), so charts of
// one width would come out in a different order on every run; a width of
// its own per chart makes the PDF's bytes the same every time.
func render(p *plot.Plot, format string, nth int) ([]byte, error) {
	wt, err := p.WriterTo(17*vg.Centimeter+vg.Length(nth)*0.75, 9.5*vg.Centimeter, format)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

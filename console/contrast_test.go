package console

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestContrastMeetsWCAGAA computes, with WCAG 2.1's formula (relative
// luminance, (L1+0.05)/(L2+0.05)), the contrast of every text colour the
// stylesheet sets against every background it is shown on, and holds each to
// AA: 4.5:1 for text. The pairs are read from the stylesheet itself (the
// custom properties in :root), so a colour changed there is checked.
func TestContrastMeetsWCAGAA(t *testing.T) {
	css, err := fs.ReadFile(assets, "assets/static/console.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	v := func(name string) string {
		c, ok := vars[name]
		if !ok {
			t.Fatalf("the stylesheet defines no --%s", name)
		}
		return c
	}
	// Which text appears on which background, as console.css lays it out.
	pairs := []struct{ what, fg, bg string }{
		{"body text", v("ink"), v("bg")},
		{"body text on panels and table heads", v("ink"), v("panel")},
		{"muted text", v("muted"), v("bg")},
		{"muted text on panels", v("muted"), v("panel")},
		{"links", v("link"), v("bg")},
		{"links on panels", v("link"), v("panel")},
		{"links on the selected row", v("link"), "#e8f0fe"},
		{"text on the selected row", v("ink"), "#e8f0fe"},
		{"header text", "#ffffff", "#14213d"},
		{"button text", "#ffffff", "#14213d"},
		{"critical badge", "#ffffff", v("crit")},
		{"high badge", "#ffffff", v("high")},
		{"medium badge", "#ffffff", v("med")},
		{"info badge", "#ffffff", v("info")},
		{"verified verdict", v("good"), v("panel")},
		{"failed verdict", v("bad"), v("panel")},
		{"ok and bad marks", v("good"), v("bg")},
		{"errors", v("bad"), v("bg")},
	}
	for _, p := range pairs {
		if r := contrast(t, p.fg, p.bg); r < 4.5 {
			t.Errorf("%s: %s on %s has contrast %.2f:1, below WCAG AA's 4.5:1", p.what, p.fg, p.bg, r)
		} else {
			t.Logf("%-38s %s on %s  %.2f:1", p.what, p.fg, p.bg, r)
		}
	}
	// The formula itself, against the figures WCAG gives.
	if r := contrast(t, "#000000", "#ffffff"); math.Abs(r-21) > 0.01 {
		t.Errorf("black on white: %.2f, want 21", r)
	}
	if r := contrast(t, "#767676", "#ffffff"); math.Abs(r-4.54) > 0.01 {
		t.Errorf("#767676 on white: %.2f, want 4.54", r)
	}
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	hex = strings.TrimPrefix(hex, "#")
	var ch [3]float64
	for i := range 3 {
		n, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatal(fmt.Errorf("colour %s: %w", hex, err))
		}
		c := float64(n) / 255
		if c <= 0.04045 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}

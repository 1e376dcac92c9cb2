package console_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chemledger/chemledger/console"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The page and its assets carry a strict policy, and the caller's name,
// whatever it holds, is escaped into the page.
func TestHandler(t *testing.T) {
	h := console.Handler(func(*http.Request) (string, []string) { return `<script>alert(1)</script>`, []string{"analyst"} })
	tests := []struct {
		name, path string
		code       int
		ctype      string
	}{
		{"page", "/console/", 200, "text/html; charset=utf-8"},
		{"script", "/console/static/console.js", 200, "text/javascript; charset=utf-8"},
		{"stylesheet", "/console/static/console.css", 200, "text/css; charset=utf-8"},
		{"places", "/console/static/places.json", 200, "application/json"},
		{"unknown page", "/console/admin", 404, ""},
		{"unknown asset", "/console/static/nope.js", 404, ""},
		{"the page template is not an asset", "/console/static/index.html", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, h, tc.path)
			if r.StatusCode != tc.code {
				t.Fatalf("GET %s: %d, want %d", tc.path, r.StatusCode, tc.code)
			}
			if tc.ctype != "" && r.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, r.Header.Get("Content-Type"), tc.ctype)
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("GET %s: Content-Security-Policy %q lacks %q", tc.path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("GET %s: Content-Security-Policy %q allows unsafe sources", tc.path, csp)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: no nosniff", tc.path)
			}
		})
	}
	page := body(t, get(t, h, "/console/"))
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the caller's name is not escaped in the page:\n%s", page)
	}
}

// No inline script or style anywhere (the policy would block it, and the
// page would break), and the script never turns text into markup.
func TestAssetsHaveNoInlineCode(t *testing.T) {
	html, _ := os.ReadFile("assets/index.html")
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(html), -1) {
		if !strings.Contains(m, `src="/console/static/`) {
			t.Errorf("inline script in index.html: %s", m)
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=|style=`).Match(html) {
		t.Error("index.html has an inline handler or style attribute")
	}
	js, _ := os.ReadFile("assets/static/console.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", ".style."} {
		if strings.Contains(string(js), bad) {
			t.Errorf("console.js uses %s", bad)
		}
	}
}

// Every place the examples route through has coordinates, and each
// place's numbers are its UN/LOCODE coordinate text.
func TestPlaces(t *testing.T) {
	b, err := os.ReadFile("assets/static/places.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Source string
		Places map[string]struct {
			Name, Coordinates string
			Lat, Lon          float64
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.Source, "UN/LOCODE") {
		t.Errorf("places.json does not cite its source: %q", doc.Source)
	}
	coord := regexp.MustCompile(`^(\d\d)(\d\d)([NS]) (\d\d\d)(\d\d)([EW])$`)
	for code, p := range doc.Places {
		m := coord.FindStringSubmatch(p.Coordinates)
		if m == nil {
			t.Errorf("%s: coordinates %q are not UN/LOCODE's DDMMN DDDMMW", code, p.Coordinates)
			continue
		}
		deg := func(d, mm, h string) float64 {
			a, _ := strconv.Atoi(d)
			b, _ := strconv.Atoi(mm)
			v := float64(a) + float64(b)/60
			if h == "S" || h == "W" {
				v = -v
			}
			return v
		}
		if la, lo := deg(m[1], m[2], m[3]), deg(m[4], m[5], m[6]); abs(la-p.Lat) > 0.001 || abs(lo-p.Lon) > 0.001 {
			t.Errorf("%s: %q is %.4f %.4f, the file says %.4f %.4f", code, p.Coordinates, la, lo, p.Lat, p.Lon)
		}
	}
	events, err := os.ReadFile("../examples/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"locode":"([A-Z0-9]{5})"`).FindAllStringSubmatch(string(events), -1) {
		if _, ok := doc.Places[m[1]]; !ok {
			t.Errorf("the examples route through %s, which places.json lacks", m[1])
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// The page's own weight leaves most of the 200 KB budget of the queue to
// its data.
func TestAssetWeight(t *testing.T) {
	total := 0
	fs.WalkDir(os.DirFS("assets"), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(os.DirFS("assets"), p)
			total += len(b)
		}
		return nil
	})
	if total > 100<<10 {
		t.Errorf("the console's assets weigh %d bytes, over 100 KiB", total)
	}
	t.Logf("console assets: %d bytes", total)
}

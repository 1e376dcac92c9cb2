package detect_test

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/chemledger/chemledger/detect"
)

func TestDefaultTables(t *testing.T) {
	tb := detect.DefaultTables()
	if want := []string{"alr.json", "pen_required.json"}; strings.Join(tb.Illustrative, ",") != strings.Join(want, ",") {
		t.Errorf("illustrative files = %v, want %v", tb.Illustrative, want)
	}
	if !tb.PENRequired["DE"][ephedrine] || tb.PENRequired["DE"][acetone] {
		t.Errorf("DE's PEN requirements: ephedrine %v (want true), acetone %v (want false)", tb.PENRequired["DE"][ephedrine], tb.PENRequired["DE"][acetone])
	}
	if got := tb.ALR["MX"][ephedrine]; got != 100 {
		t.Errorf("ALR MX ephedrine = %v, want 100", got)
	}
	if len(tb.Sets) != 4 {
		t.Errorf("%d synthesis sets, want 4", len(tb.Sets))
	}
}

func TestLoadTablesRejects(t *testing.T) {
	base, err := fs.Sub(os.DirFS("data"), ".")
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := fs.ReadFile(base, name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	files := func(name, content string) fstest.MapFS {
		m := fstest.MapFS{}
		for _, n := range []string{"pen_required.json", "alr.json", "synthesis_sets.json", "densities.json"} {
			m[n] = &fstest.MapFile{Data: []byte(read(n))}
		}
		if name != "" {
			m[name] = &fstest.MapFile{Data: []byte(content)}
		}
		return m
	}
	if _, err := detect.LoadTables(files("", "")); err != nil {
		t.Fatalf("the shipped files do not load: %v", err)
	}
	hdr := `"version":"2026-12-01.1","illustrative":true,"about":"x"`
	tests := []struct {
		name, file, content, wantErr string
	}{
		{name: "version mismatch", file: "alr.json", content: `{"version":"other","about":"x","countries":{}}`, wantErr: "different versions"},
		{name: "unknown country", file: "alr.json", content: `{` + hdr + `,"countries":{"XX":{}}}`, wantErr: `"XX" is not an ISO`},
		{name: "zero ALR", file: "alr.json", content: `{` + hdr + `,"countries":{"MX":{"299-42-3":0}}}`, wantErr: "not a positive number"},
		{name: "unknown CAS in the PEN matrix", file: "pen_required.json", content: `{` + hdr + `,"countries":{"MX":["50-00-0"]}}`, wantErr: "not in the chemical catalogue"},
		{name: "set with one step", file: "synthesis_sets.json", content: `{` + hdr + `,"sets":[{"id":"a","name":"a","source":"s","steps":[["299-42-3"]]}]}`, wantErr: "at least 2 steps"},
		{name: "chemical twice in a set", file: "synthesis_sets.json", content: `{` + hdr + `,"sets":[{"id":"a","name":"a","source":"s","steps":[["299-42-3"],["299-42-3"]]}]}`, wantErr: "listed twice"},
		{name: "implausible density", file: "densities.json", content: `{` + hdr + `,"densities":{"67-64-1":{"kg_per_litre":0}}}`, wantErr: "plausible density"},
		{name: "unknown field", file: "densities.json", content: `{` + hdr + `,"densities":{},"x":1}`, wantErr: `unknown field "x"`},
		{name: "no about", file: "densities.json", content: `{"version":"2026-12-01.1","densities":{}}`, wantErr: "version and about are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := detect.LoadTables(files(tt.file, tt.content))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadTables with %s = %s: error %v, want one containing %q", tt.file, tt.content, err, tt.wantErr)
			}
		})
	}
}

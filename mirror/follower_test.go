package mirror

import (
	"strings"
	"testing"
)

func TestBundlePath(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		w    int
		want string
	}{
		{0, 256, "tile/entries/000"},
		{3, 17, "tile/entries/003.p/17"},
		{1234067, 256, "tile/entries/x001/x234/067"},
	} {
		if got := bundlePath(tc.n, tc.w); got != tc.want {
			t.Errorf("bundlePath(%d, %d) = %q, want %q", tc.n, tc.w, got, tc.want)
		}
	}
}

func TestParseBundle(t *testing.T) {
	b := []byte{0, 2, 'h', 'i', 0, 0, 0, 1, 'x'}
	got, err := parseBundle(b, 3)
	if err != nil || len(got) != 3 || string(got[0]) != "hi" || len(got[1]) != 0 || string(got[2]) != "x" {
		t.Fatalf("parseBundle = %q, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		w    int
		want string
	}{
		{"short prefix", []byte{0}, 1, "truncated"},
		{"short entry", []byte{0, 5, 'a'}, 1, "cut short"},
		{"wrong count", b, 2, "holds 3 entries, want 2"},
	} {
		if _, err := parseBundle(tc.b, tc.w); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

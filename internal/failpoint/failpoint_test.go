//go:build failpoints

package failpoint

import (
	"maps"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse(" ledger/after-commit=kill, server/bulk-mid-stream=panic@3,")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Trigger{
		"ledger/after-commit":    {Kill, 1},
		"server/bulk-mid-stream": {Panic, 3},
	}
	if !maps.Equal(got, want) {
		t.Errorf("Parse = %v, want %v", got, want)
	}
	for _, bad := range []string{
		"ledger/after-commit",
		"ledger/nowhere=kill",
		"ledger/after-commit=sleep",
		"ledger/after-commit=kill@0",
		"ledger/after-commit=kill@x",
		"ledger/after-commit=kill,ledger/after-commit=panic",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}

func TestInjectPanicsOnNthHit(t *testing.T) {
	defer func(old map[string]*point) { armed = old }(armed)
	armed = map[string]*point{"derive/after-store": {action: Panic, nth: 3}}
	hit := func() (panicked bool) {
		defer func() { panicked = recover() != nil }()
		Inject("derive/after-store")
		Inject("ledger/after-commit") // not armed
		return false
	}
	for i, want := range []bool{false, false, true, true} {
		if got := hit(); got != want {
			t.Errorf("hit %d: panicked %v, want %v", i+1, got, want)
		}
	}
}

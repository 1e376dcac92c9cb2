//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Enabled reports whether this build has failpoints.
const Enabled = true

// EnvVar names the environment variable that arms failpoints.
const EnvVar = "CHEMLEDGER_FAILPOINTS"

// Names are the failpoints the code injects (see the package comment).
var Names = []string{
	"ledger/before-sign",
	"ledger/after-sign",
	"ledger/before-commit",
	"ledger/after-commit",
	"ledger/before-reply",
	"server/bulk-mid-stream",
	"derive/before-store",
	"derive/after-store",
	"chemledgerd/before-anchor",
}

// Action is what an armed failpoint does.
type Action string

// Actions.
const (
	Kill  Action = "kill"
	Panic Action = "panic"
)

// point is one armed failpoint.
type point struct {
	action Action
	nth    int64 // trigger from this hit on, counting from 1
	hits   atomic.Int64
}

// armed is read once, before main, and never changed: Inject needs no lock.
var armed map[string]*point

// armErr is why EnvVar could not be read; Err reports it to main.
var armErr error

func init() {
	spec := os.Getenv(EnvVar)
	if spec == "" {
		return
	}
	m, err := Parse(spec)
	if err != nil {
		armErr = fmt.Errorf("%s=%q: %w", EnvVar, spec, err)
		return
	}
	armed = make(map[string]*point, len(m))
	for name, t := range m {
		armed[name] = &point{action: t.Action, nth: t.Nth}
	}
	fmt.Fprintf(os.Stderr, "failpoints armed: %s\n", spec)
}

// Err is the error in EnvVar, if any: main refuses to start with
// failpoints it was asked for but could not arm.
func Err() error { return armErr }

// Trigger is a parsed ACTION[@N].
type Trigger struct {
	Action Action
	Nth    int64
}

// Parse reads a NAME=ACTION[@N],... list.
func Parse(spec string) (map[string]Trigger, error) {
	out := map[string]Trigger{}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, term, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want NAME=ACTION[@N]", item)
		}
		if !slices.Contains(Names, name) {
			return nil, fmt.Errorf("%q: no failpoint %q (have %s)", item, name, strings.Join(Names, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%q: failpoint %s given twice", item, name)
		}
		action, nth, hasN := strings.Cut(term, "@")
		t := Trigger{Action: Action(action), Nth: 1}
		if t.Action != Kill && t.Action != Panic {
			return nil, fmt.Errorf("%q: action %q, want kill or panic", item, action)
		}
		if hasN {
			n, err := strconv.ParseInt(nth, 10, 64)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%q: @%s, want a hit number of 1 or more", item, nth)
			}
			t.Nth = n
		}
		out[name] = t
	}
	return out, nil
}

// Inject counts a hit of the failpoint name and, if it is armed and this is
// its Nth hit or later, kills the process or panics.
func Inject(name string) {
	p := armed[name]
	if p == nil {
		return
	}
	n := p.hits.Add(1)
	if n < p.nth {
		return
	}
	switch p.action {
	case Kill:
		fmt.Fprintf(os.Stderr, "failpoint %s: kill at hit %d\n", name, n)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		// SIGKILL cannot be caught; never go on past the failpoint while it
		// is being delivered.
		for {
			time.Sleep(time.Hour)
		}
	case Panic:
		panic(fmt.Sprintf("failpoint %s: panic at hit %d", name, n))
	}
}

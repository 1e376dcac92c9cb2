// Package witness reads witness policies and decides whether a checkpoint
// has the cosignatures a policy asks for. The service, the Go client, the
// CLI and a mirror all share it, so "quorum" means one thing everywhere.
//
// The policy text is the format Tessera and Sigsum use:
//
//	log VKEY [URL]                 the log's own key (optional)
//	witness NAME VKEY [URL]        a witness: its cosignature/v1 key (type 0x04) and where to reach it
//	group NAME K|all|any MEMBER…   K of the members (witnesses or groups defined above)
//	quorum NAME|none               the witness or group a checkpoint must satisfy
//
// A witness needs a URL only for the log that feeds it; a client's copy of
// the policy may leave it out. Cosignatures are checked with
// transparency-dev/formats' cosignature/v1 verifier, which covers
// "cosignature/v1\ntime <unix>\n" and the checkpoint body.
//
// It must not fetch anything: it takes bytes and answers.
package witness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Witness is one witness of a policy.
type Witness struct {
	// Name is the policy's name for it; Key.Name() is the name in its
	// cosignature lines.
	Name string
	VKey string
	Key  note.Verifier
	// URL is the prefix of its tlog-witness API ("" when the policy does
	// not say, as a client's copy may not).
	URL string
}

// component is a witness or a group.
type component struct {
	witness  int // index into Policy.Witnesses, or -1 for a group
	name     string
	k        int
	children []*component
}

// Policy is a parsed witness policy.
type Policy struct {
	// LogKeys are the "log" lines' verifier keys, if any.
	LogKeys   []string
	Witnesses []Witness
	quorum    *component // nil: quorum none
	text      string
}

// ErrPolicy marks a policy text that cannot be read.
var ErrPolicy = errors.New("witness policy")

// ErrNoQuorum marks a checkpoint without the cosignatures the policy asks
// for.
var ErrNoQuorum = errors.New("checkpoint lacks a witness quorum")

// ParsePolicy reads a policy. Unknown keywords, duplicate names, forward
// references and impossible thresholds are refused, with the line number.
func ParsePolicy(text []byte) (*Policy, error) {
	p := &Policy{text: string(text)}
	byName := map[string]*component{}
	quorum := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: line %d: %s", ErrPolicy, n, fmt.Sprintf(format, a...))
		}
		define := func(name string, c *component) error {
			if keyword(name) {
				return bad("%q is a keyword, not a name", name)
			}
			if _, dup := byName[name]; dup {
				return bad("%q is defined twice", name)
			}
			c.name = name
			byName[name] = c
			return nil
		}
		switch f[0] {
		case "log":
			if len(f) < 2 || len(f) > 3 {
				return nil, bad("want: log VKEY [URL]")
			}
			if _, err := note.NewVerifier(f[1]); err != nil {
				return nil, bad("log key %q: %v", f[1], err)
			}
			p.LogKeys = append(p.LogKeys, f[1])
		case "witness":
			if len(f) < 3 || len(f) > 4 {
				return nil, bad("want: witness NAME VKEY [URL]")
			}
			v, err := fnote.NewVerifierForCosignatureV1(f[2])
			if err != nil {
				return nil, bad("witness %s: key %q is not a cosignature/v1 verifier key: %v", f[1], f[2], err)
			}
			w := Witness{Name: f[1], VKey: f[2], Key: v}
			if len(f) == 4 {
				u, err := url.Parse(f[3])
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return nil, bad("witness %s: URL %q is not an http(s) URL", f[1], f[3])
				}
				w.URL = strings.TrimSuffix(f[3], "/")
			}
			if err := define(f[1], &component{witness: len(p.Witnesses)}); err != nil {
				return nil, err
			}
			p.Witnesses = append(p.Witnesses, w)
		case "group":
			if len(f) < 4 {
				return nil, bad("want: group NAME K|all|any MEMBER…")
			}
			g := &component{witness: -1}
			for _, m := range f[3:] {
				c, ok := byName[m]
				if !ok {
					return nil, bad("group %s: %q is not defined above", f[1], m)
				}
				if slices.Contains(g.children, c) {
					return nil, bad("group %s: %q is listed twice", f[1], m)
				}
				g.children = append(g.children, c)
			}
			switch f[2] {
			case "all":
				g.k = len(g.children)
			case "any":
				g.k = 1
			default:
				k, err := strconv.Atoi(f[2])
				if err != nil || k < 1 || k > len(g.children) {
					return nil, bad("group %s: threshold %q: want all, any or 1 to %d", f[1], f[2], len(g.children))
				}
				g.k = k
			}
			if err := define(f[1], g); err != nil {
				return nil, err
			}
		case "quorum":
			if len(f) != 2 {
				return nil, bad("want: quorum NAME")
			}
			if quorum != "" {
				return nil, bad("a second quorum line")
			}
			quorum = f[1]
			if quorum == "none" {
				continue
			}
			c, ok := byName[quorum]
			if !ok {
				return nil, bad("quorum %q is not defined above", quorum)
			}
			p.quorum = c
		default:
			return nil, bad("unknown keyword %q", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if quorum == "" {
		return nil, fmt.Errorf("%w: no quorum line", ErrPolicy)
	}
	return p, nil
}

func keyword(s string) bool {
	switch s {
	case "log", "witness", "group", "quorum", "all", "any", "none":
		return true
	}
	return false
}

// String is the policy text as given.
func (p *Policy) String() string { return p.text }

// Cosigners returns the names of the policy's witnesses whose cosignature
// on signedNote verifies. A cosignature that is present but does not
// verify is an error: a witness's key never signs something wrong by
// accident.
func (p *Policy) Cosigners(signedNote []byte) ([]string, error) {
	var names []string
	for _, w := range p.Witnesses {
		n, err := note.Open(signedNote, note.VerifierList(w.Key))
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &unverified):
			continue
		case err != nil:
			return nil, fmt.Errorf("cosignature of witness %s: %w", w.Name, err)
		}
		if len(n.Sigs) > 0 {
			names = append(names, w.Name)
		}
	}
	return names, nil
}

// Check returns nil when signedNote carries the quorum's cosignatures, and
// otherwise an ErrNoQuorum error that names who cosigned and what is
// missing. It does not check the log's own signature (checkpoint.Open
// does).
func (p *Policy) Check(signedNote []byte) error {
	if p.quorum == nil {
		return nil
	}
	signed, err := p.Cosigners(signedNote)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoQuorum, err)
	}
	if p.satisfied(p.quorum, signed) {
		return nil
	}
	who := "no witness of the policy"
	if len(signed) > 0 {
		who = "only " + strings.Join(signed, ", ")
	}
	return fmt.Errorf("%w: %s cosigned it; the quorum %s needs %s", ErrNoQuorum, who, p.quorum.name, p.describe(p.quorum))
}

func (p *Policy) satisfied(c *component, signed []string) bool {
	if c.witness >= 0 {
		return slices.Contains(signed, p.Witnesses[c.witness].Name)
	}
	n := 0
	for _, ch := range c.children {
		if p.satisfied(ch, signed) {
			n++
		}
	}
	return n >= c.k
}

func (p *Policy) describe(c *component) string {
	if c.witness >= 0 {
		return c.name
	}
	parts := make([]string, len(c.children))
	for i, ch := range c.children {
		parts[i] = p.describe(ch)
	}
	return fmt.Sprintf("%d of (%s)", c.k, strings.Join(parts, ", "))
}

// HasQuorum reports whether the policy asks for any cosignature at all.
func (p *Policy) HasQuorum() bool { return p.quorum != nil }

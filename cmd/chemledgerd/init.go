package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	"github.com/chemledger/chemledger/storage"
)

// runInit creates a new log: `chemledgerd init --data-dir D --origin NAME`.
// It is the one way a log comes into being outside dev mode, so that a
// lost ledger file is never silently replaced by a new, empty log signed
// with the old key. It refuses a data dir that holds any of a log's files.
func runInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chemledgerd init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", env("CHEMLEDGER_DATA_DIR", "./chemledger-data"), "data directory to create the log in (env CHEMLEDGER_DATA_DIR)")
	origin := fs.String("origin", env("CHEMLEDGER_ORIGIN", ""), "the log's checkpoint origin, e.g. chemledger.example.org/log (required unless --log-key-file names a key) (env CHEMLEDGER_ORIGIN)")
	keyFile := fs.String("log-key-file", env("CHEMLEDGER_LOG_KEY_FILE", ""), "use this note signing key (PRIVATE+KEY+…) instead of generating one; it is copied to DATA_DIR/log.key (env CHEMLEDGER_LOG_KEY_FILE)")
	var founders stringList
	if v := env("CHEMLEDGER_FOUNDERS", ""); v != "" {
		founders = strings.Split(v, ",")
	}
	fs.Var(&founders, "founder", "a founding member's join request (request.json from `chemledger member init`), repeatable: the members file the log starts from (every later member joins through the log) (env CHEMLEDGER_FOUNDERS, comma-separated)")
	founderRoles := fs.String("founder-roles", env("CHEMLEDGER_FOUNDER_ROLES", strings.Join(pki.Roles, ",")), "the roles every founding member holds (env CHEMLEDGER_FOUNDER_ROLES)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("init: unexpected arguments %q", fs.Args())
	}
	layout := datadir.Layout{Dir: *dataDir}
	st, err := datadir.Inspect(layout)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if !st.Empty() {
		return fmt.Errorf("init: %s already holds a log (%s); init never replaces one", layout.Dir, present(layout, st))
	}
	foundingMembers, err := readFounders(founders, *founderRoles, layout)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	var skey string
	switch {
	case *keyFile != "":
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		skey = strings.TrimSpace(string(b))
		s, err := note.NewSigner(skey)
		if err != nil {
			return fmt.Errorf("init: --log-key-file %s: %w", *keyFile, err)
		}
		if *origin != "" && s.Name() != *origin {
			return fmt.Errorf("init: --log-key-file %s is a key for origin %q, not --origin %q", *keyFile, s.Name(), *origin)
		}
	case *origin == "":
		return errors.New("init: --origin is required: the name checkpoints carry, e.g. chemledger.example.org/log")
	default:
		if skey, _, err = note.GenerateKey(rand.Reader, *origin); err != nil {
			return fmt.Errorf("init: generate the log key: %w", err)
		}
	}
	if err := datadir.CreateLogKey(layout, skey); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	keys, err := datadir.ReadLogKeys(layout)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := initLog(layout, keys, slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	next := fmt.Sprintf("Before serving, add a members file (%s) and TLS certificates.", layout.Members())
	if len(foundingMembers) > 0 {
		if err := members.Write(layout.Members(), foundingMembers); err != nil {
			return fmt.Errorf("init: write the members file: %w", err)
		}
		ids := make([]string, len(foundingMembers))
		for i, m := range foundingMembers {
			ids[i] = m.ID
		}
		next = fmt.Sprintf("The founding members (%s) are in %s; every later member joins through the log (`chemledger member add`). Before serving, add TLS certificates (`chemledgerd ca service`).", strings.Join(ids, ", "), layout.Members())
	}
	fmt.Fprintln(stdout, keys.VerifierKey)
	fmt.Fprintf(stderr, "created the log %q in %s; its note verifier key (above, and in log.pub) is what clients and witnesses pin. "+
		"Keep log.key secret and back it up with ledger.db and audit.db. %s\n",
		keys.Signer.Name(), layout.Dir, next)
	return nil
}

// readFounders turns the founders' join requests into the members file the
// log starts from. A members file already in the data dir and --founder
// would be two geneses: refused.
func readFounders(paths []string, roles string, layout datadir.Layout) ([]members.Member, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	if _, err := os.Stat(layout.Members()); err == nil {
		return nil, fmt.Errorf("--founder: %s exists already; give the founders either way, not both", layout.Members())
	}
	var rs []string
	for _, r := range strings.Split(roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, r)
		}
	}
	var ms []members.Member
	for _, p := range paths {
		req, err := members.ReadJoinRequest(p)
		if err != nil {
			return nil, fmt.Errorf("--founder: %w", err)
		}
		if !strings.HasPrefix(req.ID, req.Country+"-") {
			return nil, fmt.Errorf("--founder %s: member %s is not of country %q", p, req.ID, req.Country)
		}
		ms = append(ms, members.Member{ID: req.ID, Name: req.Agency, Country: req.Country, Keys: req.Keys, Roles: rs})
	}
	// members.New checks ids, keys and roles as the service will on start.
	if _, err := members.New(ms); err != nil {
		return nil, fmt.Errorf("--founder: %w", err)
	}
	return ms, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// initLog creates the ledger with its signed empty checkpoint and the audit
// trail with its first record, and anchors each in the other, so that from
// its first start on neither file can go missing unnoticed.
func initLog(layout datadir.Layout, keys datadir.LogKeys, log *slog.Logger) error {
	store, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	lcfg := ledger.DefaultConfig(keys.Signer, keys.Verifier)
	lcfg.Logger = log
	lcfg.NewLog = true
	l, err := ledger.Open(store, lcfg)
	if err != nil {
		return err
	}
	defer l.Close()
	aopts := audit.DefaultOptions(layout.Audit())
	aopts.Logger = log
	a, err := audit.Open(aopts)
	if err != nil {
		return fmt.Errorf("create the audit trail: %w", err)
	}
	defer a.Close()
	cp, _ := l.Checkpoint()
	if _, err := a.Append(context.Background(), audit.NewTrail(cp.Size, cp.Root, "")); err != nil {
		return fmt.Errorf("start the audit trail: %w", err)
	}
	return recordHeads(a, l)
}

// present names the files of a log that st says are there.
func present(layout datadir.Layout, st datadir.State) string {
	var have []string
	for _, f := range []struct {
		ok   bool
		path string
	}{{st.LogKey, layout.LogKey()}, {st.Ledger, layout.DB()}, {st.Audit, layout.Audit()}} {
		if f.ok {
			have = append(have, f.path)
		}
	}
	return strings.Join(have, ", ")
}

// checkLogFiles refuses to go on when the data dir's files do not make a
// log: above all a signing key without its ledger, which must never become
// a new, empty log signed with the old key (a fork signed by the log, every
// acknowledged entry gone).
func checkLogFiles(layout datadir.Layout, st datadir.State) error {
	switch {
	case st.LogKey && st.Ledger:
		return nil
	case st.Empty():
		return fmt.Errorf("%s holds no log: create one with `chemledgerd init --data-dir %s --origin NAME` (or run with --dev for a development log)", layout.Dir, layout.Dir)
	case !st.LogKey:
		return fmt.Errorf("the log's signing key %s is missing, but %s holds a log: restore log.key (and log.pub) from a backup; a new key would not verify the log's checkpoints", layout.LogKey(), present(layout, st))
	}
	msg := fmt.Sprintf("the ledger %s is missing or empty, but %s holds this log's signing key", layout.DB(), layout.LogKey())
	if st.Audit {
		msg += " and its audit trail " + layout.Audit()
		if h, ok := auditSawLedger(layout); ok {
			msg += fmt.Sprintf(", which has seen checkpoint %d (root %x)", h.Size, h.Root)
		}
	}
	hint := ""
	if !st.Audit {
		// Init writes the key first: a creation cut short leaves only it.
		hint = fmt.Sprintf(" (If this data dir never served a log, because its creation was interrupted, remove %s and %s and create it again.)", layout.LogKey(), layout.LogPub())
	}
	return fmt.Errorf("%s: every entry of the log is gone from this data dir. Refusing to start a new log under the old key. "+
		"Restore ledger.db from a backup (the newest you have; stop the service, copy it into %s, start again). A new log is created only by `chemledgerd init` in an empty data dir%s", msg, layout.Dir, hint)
}

// auditSawLedger reads the ledger checkpoint the audit trail last
// recorded, for the message that the ledger is gone.
func auditSawLedger(layout datadir.Layout) (audit.LedgerHead, bool) {
	opts := audit.DefaultOptions(layout.Audit())
	opts.Logger = slog.New(slog.DiscardHandler)
	a, err := audit.Open(opts)
	if err != nil {
		return audit.LedgerHead{}, false
	}
	defer a.Close()
	h, ok, err := a.LedgerHead()
	return h, ok && err == nil
}

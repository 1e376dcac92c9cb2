package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
)

// runRebuild drops the derived state (flags, the detector's marks) and
// derives it again from the log: `chemledgerd rebuild`. The service must
// not be running on the data dir (the file lock makes sure).
func runRebuild(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("chemledgerd rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", env("CHEMLEDGER_DATA_DIR", "./chemledger-data"), "data directory (env CHEMLEDGER_DATA_DIR)")
	policy := fs.String("policy", env("CHEMLEDGER_POLICY", ""), "detection policy file; default: the embedded policy (env CHEMLEDGER_POLICY)")
	asOf := fs.String("as-of", env("CHEMLEDGER_AS_OF", ""), "also run the time-based rules as of this RFC 3339 time (default: only as the log's own clock advances, as the live detector does) (env CHEMLEDGER_AS_OF)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	layout := datadir.Layout{Dir: *dataDir}
	files, err := datadir.Inspect(layout)
	if err != nil {
		return err
	}
	if err := checkLogFiles(layout, files); err != nil {
		return fmt.Errorf("refusing to rebuild: %w", err)
	}
	logKeys, err := datadir.ReadLogKeys(layout)
	if err != nil {
		return err
	}
	signer, verifier := logKeys.Signer, logKeys.Verifier
	store, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	lcfg := ledger.DefaultConfig(signer, verifier)
	lcfg.Logger = log
	lcfg.Describe = server.Describe
	l, err := ledger.Open(store, lcfg)
	if err != nil {
		return fmt.Errorf("refusing to rebuild: %w", err)
	}
	defer l.Close()
	dcfg, err := deriveConfig(*policy, log)
	if err != nil {
		return err
	}
	var at time.Time
	if *asOf != "" {
		if at, err = time.Parse(time.RFC3339, *asOf); err != nil {
			return fmt.Errorf("--as-of: %w", err)
		}
	}
	start := time.Now()
	// Drop first, so that Open has nothing to restore: Rebuild folds the
	// log once.
	if err := store.DropDerived(); err != nil {
		return err
	}
	d, err := derive.Open(store, l, dcfg)
	if err != nil {
		return err
	}
	if err := d.Rebuild(at); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rebuilt the derived state from %d entries: %d flags (policy %s) in %v\n",
		d.Applied(), len(d.Snapshot()), d.PolicyVersion(), time.Since(start).Round(time.Millisecond))
	return nil
}

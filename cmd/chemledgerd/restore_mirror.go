package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/internal/cosign"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/mirror"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
	"github.com/chemledger/chemledger/witness"
)

// runRestoreFromMirror is chemledgerd restore --from-mirror URL: it rebuilds a
// primary's ledger file, lost or rolled back, from a member's mirror. The
// copy is verified as a mirror verifies (signatures, quorum, tiles, every
// entry's DSSE signature against the registry at its index), and then held
// against the witnesses: if one has cosigned a larger tree than the mirror
// has, the mirror is behind and restoring from it would roll the log back,
// so the restore is refused. A rolled-back file is kept beside the new one,
// never deleted.
func runRestoreFromMirror(ctx context.Context, args []string, stderr io.Writer) error {
	var o mirrorOptions
	var replace bool
	fset := flag.NewFlagSet("chemledgerd restore", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.StringVar(&o.upstream, "from-mirror", "", "base URL of a mirror's HTTPS listener (required)")
	fset.StringVar(&o.dataDir, "data-dir", env("CHEMLEDGER_DATA_DIR", "./chemledger-data"), "the primary's data directory, with its log key and members file (env CHEMLEDGER_DATA_DIR)")
	fset.StringVar(&o.logKey, "log-key", "", "file with the log's note verifier key (default DATA_DIR/log.pub)")
	fset.StringVar(&o.membersFile, "members", "", "the log's founding members file (default DATA_DIR/members.json)")
	fset.StringVar(&o.witnessPolicy, "witness-policy", env("CHEMLEDGER_WITNESS_POLICY", ""), "witness policy (required): the copy must carry its quorum and no witness may have seen more (env CHEMLEDGER_WITNESS_POLICY)")
	fset.StringVar(&o.upstreamCA, "upstream-ca", "", "CA certificate (PEM) of the mirror's listener")
	fset.StringVar(&o.upstreamCert, "upstream-cert", "", "an analyst's client certificate (PEM) for the mirror")
	fset.StringVar(&o.upKey, "upstream-key", "", "its private key")
	fset.BoolVar(&o.insecurePlaintext, "insecure-dev-plaintext", false, "allow an http:// mirror (development only)")
	fset.BoolVar(&replace, "replace", false, "move an existing ledger file aside (kept as ledger.db.replaced-TIME) instead of refusing")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.upstream == "" || o.witnessPolicy == "" {
		return errors.New("restore needs --from-mirror and --witness-policy")
	}
	o.logLevel, o.logFormat = "info", "text"
	log, err := newLogger(o.options, stderr)
	if err != nil {
		return err
	}
	layout := datadir.Layout{Dir: o.dataDir}
	if o.logKey == "" {
		o.logKey = layout.LogPub()
	}
	if o.membersFile == "" {
		o.membersFile = layout.Members()
	}
	vkey, err := readVerifierKey(o.logKey)
	if err != nil {
		return err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("log key %s: %w", o.logKey, err)
	}
	policy, err := readWitnessPolicy(o.witnessPolicy)
	if err != nil {
		return err
	}
	reg, err := members.Load(o.membersFile)
	if err != nil {
		return err
	}
	client, err := upstreamHTTP(o)
	if err != nil {
		return err
	}
	if _, err := os.Stat(layout.DB()); err == nil && !replace {
		return fmt.Errorf("%s exists: pass --replace to move it aside and restore over it", layout.DB())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	tmp := layout.DB() + ".restoring"
	os.Remove(tmp)
	size, err := restoreInto(ctx, tmp, verifier, policy, reg, client, o, log)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore from %s: %w", o.upstream, err)
	}
	if _, err := os.Stat(layout.DB()); err == nil {
		aside := fmt.Sprintf("%s.replaced-%s", layout.DB(), time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(layout.DB(), aside); err != nil {
			return err
		}
		log.Warn("the old ledger file is kept", "path", aside)
	}
	if err := os.Rename(tmp, layout.DB()); err != nil {
		return err
	}
	// The detector's state was of the old file; the next start refolds.
	log.Info("restored", "entries", size, "path", layout.DB(), "from", o.upstream)
	fmt.Fprintf(stderr, "restored %d entries from %s into %s\n", size, o.upstream, filepath.Clean(layout.DB()))
	return nil
}

// restoreInto copies the mirror into a new store at path, verifying it as
// a mirror would, and checks the copy against the witnesses.
func restoreInto(ctx context.Context, path string, verifier note.Verifier, policy *witness.Policy, reg *members.Registry, client *http.Client, o mirrorOptions, log *slog.Logger) (uint64, error) {
	store, err := storage.Open(path, storage.DefaultOptions())
	if err != nil {
		return 0, err
	}
	defer store.Close()
	lcfg := ledger.DefaultConfig(nil, verifier)
	lcfg.Mirror, lcfg.Logger = true, log
	l, err := ledger.Open(store, lcfg)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	f, err := mirror.New(l, mirror.Config{Upstream: o.upstream, Client: client, Policy: policy, Admit: server.MirrorAdmitter(reg, log), Logger: log})
	if err != nil {
		return 0, err
	}
	if err := f.Sync(ctx); err != nil {
		return 0, err
	}
	cp, _ := l.Checkpoint()
	if cp.Size == 0 || l.Size() != cp.Size {
		return 0, fmt.Errorf("the mirror served %d entries of a checkpoint of %d: nothing to restore", l.Size(), cp.Size)
	}
	// The witnesses know the largest tree they cosigned: a mirror behind it
	// would restore a rolled-back log, which the witnesses would refuse.
	ccfg := cosign.DefaultConfig(policy)
	ccfg.Logger = log
	feeder, err := cosign.New(l, ccfg)
	if err != nil {
		return 0, err
	}
	if err := feeder.CheckRollback(ctx); err != nil {
		return 0, fmt.Errorf("the mirror is behind the witnesses: %w", err)
	}
	return cp.Size, nil
}

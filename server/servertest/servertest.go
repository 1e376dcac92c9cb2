// Package servertest runs a complete chemledger service in-process on
// 127.0.0.1 ephemeral ports, over a fresh data directory with demo members,
// for tests and benchmarks that talk to it like a client would.
//
// It must not be imported by the service itself.
package servertest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
)

// Instance is a running service.
type Instance struct {
	Dir      string
	GRPCAddr string
	HTTPAddr string
	// OpsAddr is the plaintext ops listener (/healthz, /readyz, /metrics).
	OpsAddr     string
	VerifierKey string
	Ledger      *ledger.Ledger
	Store       *storage.Store
	Members     *members.Registry
	// Keys holds the demo members' private keys by member id.
	Keys map[string]members.PrivateKey
	// Deriver is the detector following the log (nil with NoDetection).
	Deriver *derive.Deriver
	// PKI is the development PKI (used with Options.TLS).
	PKI pki.Layout
	// Audit is the audit trail (nil without Options.Audit).
	Audit *audit.Store

	cancel context.CancelFunc
	done   chan error
}

// Options adjust the instance.
type Options struct {
	// Ledger, if set, edits the ledger configuration.
	Ledger func(*ledger.Config)
	// Server, if set, edits the server configuration.
	Server func(*server.Config)
	// Logger receives the service's logs (default: discarded).
	Logger *slog.Logger
	// NoDetection leaves the detector and the analyst API out.
	NoDetection bool
	// Storage, if set, edits the storage options.
	Storage func(*storage.Options)
	// TLS serves both listeners with mutual TLS from the data directory's
	// development PKI; without it the instance is insecure plaintext.
	TLS bool
	// Audit keeps the audit trail of reads and refusals.
	Audit bool
	// HoldDetector opens the detector but does not run it: the test runs
	// Instance.Deriver.Run when it wants the detector to catch up.
	HoldDetector bool
	// Checkpoints, if set, is given the open ledger and returns what
	// serves the checkpoint (a witnessing feeder).
	Checkpoints func(*ledger.Ledger) server.CheckpointSource
}

// Start creates a dev data directory in dir (or reuses one) and serves it.
func Start(dir string, opts Options) (*Instance, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	layout := datadir.Layout{Dir: dir}
	if err := datadir.EnsureDev(layout); err != nil {
		return nil, err
	}
	logKeys, err := datadir.ReadLogKeys(layout)
	if err != nil {
		return nil, err
	}
	signer, verifier, vkey := logKeys.Signer, logKeys.Verifier, logKeys.VerifierKey
	reg, err := members.Load(layout.Members())
	if err != nil {
		return nil, err
	}
	keys := map[string]members.PrivateKey{}
	for _, m := range datadir.DemoMembers {
		k, err := members.ReadPrivateKey(layout.MemberKey(m.ID))
		if err != nil {
			return nil, err
		}
		keys[m.ID] = k
	}
	sopts := storage.DefaultOptions()
	if opts.Storage != nil {
		opts.Storage(&sopts)
	}
	st, err := storage.Open(layout.DB(), sopts)
	if err != nil {
		return nil, err
	}
	lcfg := ledger.DefaultConfig(signer, verifier)
	lcfg.Logger = log
	lcfg.Linger = 0
	lcfg.NewLog = true // a test's own data dir, new or reopened
	lcfg.Describe = server.Describe
	if opts.Ledger != nil {
		opts.Ledger(&lcfg)
	}
	l, err := ledger.Open(st, lcfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		st.Close()
		return nil, err
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gl.Close()
		l.Close()
		st.Close()
		return nil, err
	}
	ol, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gl.Close()
		hl.Close()
		l.Close()
		st.Close()
		return nil, err
	}
	deps := server.Deps{Ledger: l, Members: reg, VerifierKey: vkey}
	if opts.Checkpoints != nil {
		deps.Checkpoints = opts.Checkpoints(l)
	}
	// fail undoes what Start opened.
	fail := func(err error) (*Instance, error) {
		gl.Close()
		hl.Close()
		ol.Close()
		l.Close()
		st.Close()
		if deps.Audit != nil {
			deps.Audit.Close()
		}
		return nil, err
	}
	scfg := server.DefaultConfig()
	scfg.Logger = log
	scfg.InsecurePlaintext = !opts.TLS
	if opts.TLS {
		if scfg.TLS, scfg.GatewayTLS, err = layout.TLS().Server(reg.Revoked); err != nil {
			return fail(err)
		}
	}
	if opts.Server != nil {
		opts.Server(&scfg)
	}
	if opts.Audit {
		ao := audit.DefaultOptions(layout.Audit())
		ao.Logger = log
		if deps.Audit, err = audit.Open(ao); err != nil {
			return fail(err)
		}
		// No anchors run here, so any moment is still enough.
		deps.Backup = snapshotPair{st, deps.Audit}
	}
	var runDeriver func(context.Context) error
	if !opts.NoDetection {
		dcfg := derive.DefaultConfig()
		dcfg.Logger = log
		d, err := derive.Open(st, l, dcfg)
		if err != nil {
			return fail(err)
		}
		deps.Deriver, deps.Policy = d, dcfg.Policy
		if !opts.HoldDetector {
			runDeriver = d.Run
		}
	}
	srv, err := server.New(scfg, deps)
	if err != nil {
		return fail(err)
	}
	ops := server.NewOps(log)
	ops.Attach(srv)
	ctx, cancel := context.WithCancel(context.Background())
	in := &Instance{
		Dir: dir, GRPCAddr: gl.Addr().String(), HTTPAddr: hl.Addr().String(), OpsAddr: ol.Addr().String(), VerifierKey: vkey,
		Ledger: l, Store: st, Members: reg, Keys: keys, cancel: cancel, done: make(chan error, 1),
		PKI: layout.TLS(), Audit: deps.Audit,
	}
	if runDeriver != nil {
		go runDeriver(ctx)
	}
	in.Deriver = deps.Deriver
	opsDone := make(chan error, 1)
	go func() { opsDone <- ops.Serve(ctx, ol) }()
	go func() {
		err := srv.Serve(ctx, gl, hl)
		if oerr := <-opsDone; err == nil {
			err = oerr
		}
		in.done <- err
	}()
	return in, nil
}

// Stop shuts the service down gracefully and closes the ledger and store.
func (in *Instance) Stop() error {
	in.cancel()
	err := <-in.done
	in.Ledger.Close()
	if cerr := in.Store.Close(); err == nil {
		err = cerr
	}
	if in.Audit != nil {
		if cerr := in.Audit.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// ClientTLS is the TLS config of a demo member acting in role ("" for all
// its roles).
func (in *Instance) ClientTLS(member, role string) (*tls.Config, error) {
	return in.PKI.Client(member, role)
}

// TempDir makes a temporary directory for callers without testing.TB.
func TempDir() (string, func(), error) {
	d, err := os.MkdirTemp("", "chemledger-")
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// snapshotPair takes a backup's two read transactions one after the other.
type snapshotPair struct {
	ledger *storage.Store
	audit  *audit.Store
}

func (p snapshotPair) OpenBackup() (*server.BackupSnapshot, error) {
	ls, err := p.ledger.Snapshot()
	if err != nil {
		return nil, err
	}
	as, err := p.audit.Snapshot()
	if err != nil {
		ls.Close()
		return nil, err
	}
	return &server.BackupSnapshot{Ledger: ls, Audit: as}, nil
}

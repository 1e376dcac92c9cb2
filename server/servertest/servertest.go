// Package servertest runs a complete chemledger service in-process on
// 127.0.0.1 ephemeral ports, over a fresh data directory with demo members,
// for tests and benchmarks that talk to it like a client would.
package servertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/chemledger/chemledger/datadir"
	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
)

// Instance is a running service.
type Instance struct {
	Dir         string
	GRPCAddr    string
	HTTPAddr    string
	VerifierKey string
	Ledger      *ledger.Ledger
	Store       *storage.Store
	Members     *members.Registry
	// Keys holds the demo members' private keys by member id.
	Keys map[string]members.PrivateKey
	// Deriver is the detector following the log (nil with NoDetection).
	Deriver *derive.Deriver

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
	lcfg.Linger, _ = time.ParseDuration("2ms")
	lcfg.Linger, _ = time.ParseDuration("1ms")
	lcfg.Linger, _ = time.ParseDuration("300us")
	lcfg.Linger, _ = time.ParseDuration("0")
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
	scfg := server.DefaultConfig()
	scfg.Logger = log
	if opts.Server != nil {
		opts.Server(&scfg)
	}
	deps := server.Deps{Ledger: l, Members: reg, VerifierKey: vkey}
	var runDeriver func(context.Context) error
	if !opts.NoDetection {
		dcfg := derive.DefaultConfig()
		dcfg.Logger = log
		d, err := derive.Open(st, l, dcfg)
		if err != nil {
			gl.Close()
			hl.Close()
			l.Close()
			st.Close()
			return nil, err
		}
		deps.Deriver, deps.Policy, runDeriver = d, dcfg.Policy, d.Run
	}
	srv := server.New(scfg, deps)
	ctx, cancel := context.WithCancel(context.Background())
	in := &Instance{
		Dir: dir, GRPCAddr: gl.Addr().String(), HTTPAddr: hl.Addr().String(), VerifierKey: vkey,
		Ledger: l, Store: st, Members: reg, Keys: keys, cancel: cancel, done: make(chan error, 1),
	}
	if runDeriver != nil {
		go runDeriver(ctx)
	}
	in.Deriver = deps.Deriver
	go func() { in.done <- srv.Serve(ctx, gl, hl) }()
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
	return err
}

// TempDir makes a temporary directory for callers without testing.TB.
func TempDir() (string, func(), error) {
	d, err := os.MkdirTemp("", "chemledger-")
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/mirror"
	"github.com/chemledger/chemledger/pki"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
)

// mirrorOptions are the flags of chemledgerd mirror.
type mirrorOptions struct {
	options
	upstream                        string
	logKey                          string
	membersFile                     string
	upstreamCA, upstreamCert, upKey string
}

// runMirror is chemledgerd mirror: a verifying copy of a primary, with the
// primary's read API and the detector on its own copy.
func runMirror(ctx context.Context, args []string, stderr io.Writer) error {
	var o mirrorOptions
	fs := flag.NewFlagSet("chemledgerd mirror", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.upstream, "upstream", env("CHEMLEDGER_UPSTREAM", ""), "base URL of the primary's HTTPS listener (its /tlog read API) (env CHEMLEDGER_UPSTREAM)")
	fs.StringVar(&o.dataDir, "data-dir", env("CHEMLEDGER_DATA_DIR", "./chemledger-mirror"), "the mirror's data directory: its own bbolt file, audit trail and evidence (env CHEMLEDGER_DATA_DIR)")
	fs.StringVar(&o.logKey, "log-key", env("CHEMLEDGER_LOG_KEY", ""), "file with the primary's note verifier key (env CHEMLEDGER_LOG_KEY; default DATA_DIR/log.pub)")
	fs.StringVar(&o.membersFile, "members", env("CHEMLEDGER_MEMBERS", ""), "the log's founding members file, before any member change in the log (env CHEMLEDGER_MEMBERS; default DATA_DIR/members.json)")
	fs.StringVar(&o.witnessPolicy, "witness-policy", env("CHEMLEDGER_WITNESS_POLICY", ""), "witness policy every upstream checkpoint must satisfy (required) (env CHEMLEDGER_WITNESS_POLICY)")
	fs.StringVar(&o.upstreamCA, "upstream-ca", env("CHEMLEDGER_UPSTREAM_CA", ""), "CA certificate (PEM) of the primary's listener (env CHEMLEDGER_UPSTREAM_CA)")
	fs.StringVar(&o.upstreamCert, "upstream-cert", env("CHEMLEDGER_UPSTREAM_CERT", ""), "a member's analyst client certificate (PEM) for reading the primary's entry bundles (env CHEMLEDGER_UPSTREAM_CERT)")
	fs.StringVar(&o.upKey, "upstream-key", env("CHEMLEDGER_UPSTREAM_KEY", ""), "its private key (env CHEMLEDGER_UPSTREAM_KEY)")
	fs.StringVar(&o.grpcAddr, "grpc-addr", env("CHEMLEDGER_GRPC_ADDR", "127.0.0.1:7170"), "gRPC listen address of the mirror's read API (env CHEMLEDGER_GRPC_ADDR)")
	fs.StringVar(&o.httpAddr, "http-addr", env("CHEMLEDGER_HTTP_ADDR", "127.0.0.1:8180"), "HTTP listen address of the mirror's read API (env CHEMLEDGER_HTTP_ADDR)")
	fs.StringVar(&o.opsAddr, "ops-addr", env("CHEMLEDGER_OPS_ADDR", "127.0.0.1:9190"), "plaintext operations listen address: /healthz, /readyz and /metrics, no ledger data (env CHEMLEDGER_OPS_ADDR)")
	fs.StringVar(&o.readyFile, "ready-file", env("CHEMLEDGER_READY_FILE", ""), "once listening, write the bound addresses here as JSON (env CHEMLEDGER_READY_FILE)")
	fs.StringVar(&o.logLevel, "log-level", env("CHEMLEDGER_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", env("CHEMLEDGER_LOG_FORMAT", "text"), "text or json")
	fs.StringVar(&o.verify, "verify-on-start", env("CHEMLEDGER_VERIFY_ON_START", "full"), "full or state")
	fs.StringVar(&o.tlsCA, "tls-ca", env("CHEMLEDGER_TLS_CA", ""), "CA of the mirror's own clients' certificates")
	fs.StringVar(&o.tlsCert, "tls-cert", env("CHEMLEDGER_TLS_CERT", ""), "the mirror's server certificate")
	fs.StringVar(&o.tlsKey, "tls-key", env("CHEMLEDGER_TLS_KEY", ""), "its key")
	fs.StringVar(&o.gatewayCert, "gateway-cert", env("CHEMLEDGER_GATEWAY_CERT", ""), "the gateway's client certificate")
	fs.StringVar(&o.gatewayKey, "gateway-key", env("CHEMLEDGER_GATEWAY_KEY", ""), "its key")
	fs.BoolVar(&o.insecurePlaintext, "insecure-dev-plaintext", envBool("CHEMLEDGER_INSECURE_DEV_PLAINTEXT"), "serve (and, for an http:// upstream, fetch) plaintext; development only")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.upstream == "" || o.witnessPolicy == "" {
		return errors.New("mirror needs --upstream and --witness-policy: a mirror that takes unwitnessed checkpoints proves nothing")
	}
	log, err := newLogger(o.options, stderr)
	if err != nil {
		return err
	}
	ops, opsLis, stopOps, err := startOps(ctx, o.opsAddr, log)
	if err != nil {
		return err
	}
	defer stopOps()
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
	upstreamClient, err := upstreamHTTP(o)
	if err != nil {
		return err
	}

	store, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	lcfg := ledger.DefaultConfig(nil, verifier)
	lcfg.Mirror, lcfg.Logger = true, log
	if o.verify == "state" {
		lcfg.VerifyOnOpen = ledger.VerifyState
	}
	l, err := ledger.Open(store, lcfg)
	if err != nil {
		return fmt.Errorf("refusing to serve: %w", err)
	}
	defer l.Close()

	dcfg, err := deriveConfig("", log)
	if err != nil {
		return err
	}
	d, err := derive.Open(store, l, dcfg)
	if err != nil {
		return fmt.Errorf("open detector: %w", err)
	}
	go d.Run(ctx)
	aopts := audit.DefaultOptions(layout.Audit())
	aopts.Logger = log
	auditLog, err := audit.Open(aopts)
	if err != nil {
		return fmt.Errorf("open audit trail: %w", err)
	}
	defer auditLog.Close()

	scfg := server.DefaultConfig()
	scfg.Logger = log
	scfg.InsecurePlaintext = o.insecurePlaintext
	if !o.insecurePlaintext {
		if scfg.TLS, scfg.GatewayTLS, err = serverTLS(o.options, layout, reg); err != nil {
			return err
		}
	}
	// server.New replays the member changes the mirror already holds; the
	// follower applies the ones it copies from here on, in log order.
	srv, err := server.New(scfg, server.Deps{Ledger: l, Members: reg, VerifierKey: vkey, Deriver: d, Policy: dcfg.Policy, Audit: auditLog})
	if err != nil {
		return err
	}
	f, err := mirror.New(l, mirror.Config{
		Upstream: o.upstream, Client: upstreamClient, Policy: policy,
		Admit: server.MirrorAdmitter(reg, log), EvidenceDir: filepath.Join(o.dataDir, "evidence"), Logger: log,
	})
	if err != nil {
		return err
	}
	go f.Run(ctx)
	ops.Attach(srv)

	grpcLis, err := net.Listen("tcp", o.grpcAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	httpLis, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	cp, _ := l.Checkpoint()
	log.Info("mirroring", "upstream", o.upstream, "origin", l.Origin(), "size", cp.Size, "stored", l.Size(),
		"grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String())
	if o.readyFile != "" {
		if err := writeReadyFile(o.readyFile, grpcLis.Addr().String(), httpLis.Addr().String(), opsLis.Addr().String()); err != nil {
			grpcLis.Close()
			httpLis.Close()
			return err
		}
	}
	err = srv.Serve(ctx, grpcLis, httpLis)
	if cerr := d.Checkpoint(); cerr != nil {
		log.Warn("could not save the detector's state", "err", cerr)
	}
	return err
}

func readVerifierKey(path string) (string, error) {
	b, err := readFileTrim(path)
	if err != nil {
		return "", fmt.Errorf("read the log's verifier key: %w", err)
	}
	return b, nil
}

// upstreamHTTP is the client the mirror reads the primary with: mutual TLS
// with the member's analyst certificate, or plaintext to an http:// URL.
func upstreamHTTP(o mirrorOptions) (*http.Client, error) {
	c := &http.Client{Timeout: time.Minute}
	if strings.HasPrefix(o.upstream, "http://") {
		if !o.insecurePlaintext {
			return nil, errors.New("an http:// upstream is plaintext: add --insecure-dev-plaintext (development only) or use https://")
		}
		return c, nil
	}
	if o.upstreamCA == "" || o.upstreamCert == "" || o.upKey == "" {
		return nil, errors.New("an https:// upstream needs --upstream-ca, --upstream-cert and --upstream-key (a member's analyst certificate)")
	}
	cfg, err := pki.LoadClient(o.upstreamCA, o.upstreamCert, o.upKey)
	if err != nil {
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	c.Transport = &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4}
	return c, nil
}

// Command chemledgerd runs the chemledger service: the shared, tamper-evident
// log of signed precursor-chemical shipment events, over gRPC and HTTP/JSON.
//
//	go run ./cmd/chemledgerd --dev --demo examples
//
// With --dev it creates, in an empty data directory, a log with its signing
// key and demo member agencies with their keys, so the service and the CLI
// work at once on a fresh machine. Outside dev mode a log is created only by
//
//	chemledgerd init --data-dir DIR --origin NAME
//
// Main is the only place that exits; everything it runs returns errors.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/chemledger/chemledger/pki"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/failpoint"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chemledgerd:", err)
		os.Exit(1)
	}
}

// options are the command's flags; each has a CHEMLEDGER_* environment
// fallback, and an explicit flag wins.
type options struct {
	dataDir   string
	grpcAddr  string
	httpAddr  string
	opsAddr   string
	dev       bool
	demo      string
	verify    string
	logLevel  string
	logFormat string
	maxBatch  int
	dbMaxSize int
	policy    string
	readyFile string
	// TLS: the CA that issues members' client certificates, the server's
	// certificate and key, and the gateway's client certificate for its
	// hop to the gRPC side; dev mode defaults them to DATA_DIR/tls.
	tlsCA, tlsCert, tlsKey  string
	gatewayCert, gatewayKey string
	insecurePlaintext       bool
	rate                    float64
	burst                   int
	// newAuditTrail starts a new audit trail where the old one is lost.
	newAuditTrail bool
	witnessPolicy string
	webhookCA     string
}

// helpOK makes a subcommand's --help a success: it printed what was asked.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// subcommands are what `chemledgerd help` lists, one line each.
var subcommands = []struct{ name, what string }{
	{"serve", "run the service (the default: plain `chemledgerd [flags]` is serve)"},
	{"init", "create a new log in an empty data dir: its signing key, ledger and audit trail"},
	{"ca", "the coalition CA: create it, issue member and server certificates"},
	{"backup", "take an online, consistent copy of the ledger and the audit trail from the running daemon"},
	{"restore", "put a backup (--from FILE) in place in a data dir that holds no log, and check it; or copy a lost or rolled-back primary back from a member's mirror (--from-mirror URL)"},
	{"mirror", "follow a primary through its tiles, verifying every checkpoint, cosignature and signature, and serve the copy"},
	{"rebuild", "drop the derived state (flags) and derive it again from the log"},
	{"help", "list the commands"},
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: chemledgerd [command] [flags]")
	fmt.Fprintln(w)
	for _, c := range subcommands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.what)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`chemledgerd COMMAND --help` lists a command's flags; every flag has a CHEMLEDGER_* environment fallback, and an explicit flag wins.")
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chemledgerd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataDir, "data-dir", env("CHEMLEDGER_DATA_DIR", "./chemledger-data"), "data directory: the bbolt file, keys and members file (env CHEMLEDGER_DATA_DIR)")
	fs.StringVar(&o.grpcAddr, "grpc-addr", env("CHEMLEDGER_GRPC_ADDR", "127.0.0.1:7070"), "gRPC listen address (env CHEMLEDGER_GRPC_ADDR)")
	fs.StringVar(&o.httpAddr, "http-addr", env("CHEMLEDGER_HTTP_ADDR", "127.0.0.1:8080"), "HTTP/JSON listen address (env CHEMLEDGER_HTTP_ADDR)")
	fs.StringVar(&o.opsAddr, "ops-addr", env("CHEMLEDGER_OPS_ADDR", "127.0.0.1:9090"), "plaintext operations listen address: /healthz, /readyz and /metrics, no ledger data (env CHEMLEDGER_OPS_ADDR)")
	fs.BoolVar(&o.dev, "dev", envBool("CHEMLEDGER_DEV"), "development mode: create a log key and demo member keys in the data dir when missing (env CHEMLEDGER_DEV)")
	fs.StringVar(&o.demo, "demo", env("CHEMLEDGER_DEMO", ""), "dev mode: once serving, submit examples through the API, verify the receipts and show the flags: a directory with registry.jsonl and events.jsonl, one JSONL file of events, or \"scenario\" for a generated year of trade (env CHEMLEDGER_DEMO)")
	fs.StringVar(&o.verify, "verify-on-start", env("CHEMLEDGER_VERIFY_ON_START", "full"), "start-up check: full (rehash every entry and node) or state (check the tree state against the signed checkpoint only) (env CHEMLEDGER_VERIFY_ON_START)")
	fs.StringVar(&o.logLevel, "log-level", env("CHEMLEDGER_LOG_LEVEL", "info"), "debug, info, warn or error (env CHEMLEDGER_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("CHEMLEDGER_LOG_FORMAT", "text"), "text or json (env CHEMLEDGER_LOG_FORMAT)")
	fs.StringVar(&o.readyFile, "ready-file", env("CHEMLEDGER_READY_FILE", ""), "once listening, write the bound gRPC and HTTP addresses to this file as JSON (useful with port 0) (env CHEMLEDGER_READY_FILE)")
	fs.StringVar(&o.policy, "policy", env("CHEMLEDGER_POLICY", ""), "detection policy file (JSON); default: the embedded policy (env CHEMLEDGER_POLICY)")
	fs.IntVar(&o.maxBatch, "max-batch", envInt("CHEMLEDGER_MAX_BATCH", ledger.DefaultMaxBatch), "most submissions committed in one transaction (env CHEMLEDGER_MAX_BATCH)")
	fs.IntVar(&o.dbMaxSize, "db-max-size", envInt("CHEMLEDGER_DB_MAX_SIZE", 0), "cap on the database file in bytes; 0 means none (env CHEMLEDGER_DB_MAX_SIZE)")
	fs.StringVar(&o.tlsCA, "tls-ca", env("CHEMLEDGER_TLS_CA", ""), "CA certificate (PEM) that issues members' client certificates (env CHEMLEDGER_TLS_CA; dev: DATA_DIR/tls/ca.pem)")
	fs.StringVar(&o.tlsCert, "tls-cert", env("CHEMLEDGER_TLS_CERT", ""), "server certificate (PEM) (env CHEMLEDGER_TLS_CERT; dev: DATA_DIR/tls/server.pem)")
	fs.StringVar(&o.tlsKey, "tls-key", env("CHEMLEDGER_TLS_KEY", ""), "server private key (PEM) (env CHEMLEDGER_TLS_KEY; dev: DATA_DIR/tls/server.key)")
	fs.StringVar(&o.gatewayCert, "gateway-cert", env("CHEMLEDGER_GATEWAY_CERT", ""), "the HTTP gateway's client certificate for its hop to gRPC (env CHEMLEDGER_GATEWAY_CERT; dev: DATA_DIR/tls/gateway.pem)")
	fs.StringVar(&o.gatewayKey, "gateway-key", env("CHEMLEDGER_GATEWAY_KEY", ""), "its private key (env CHEMLEDGER_GATEWAY_KEY)")
	fs.BoolVar(&o.insecurePlaintext, "insecure-dev-plaintext", envBool("CHEMLEDGER_INSECURE_DEV_PLAINTEXT"), "serve plaintext with no authentication: anyone may do anything (development only) (env CHEMLEDGER_INSECURE_DEV_PLAINTEXT)")
	fs.Float64Var(&o.rate, "rate-per-member", envFloat("CHEMLEDGER_RATE_PER_MEMBER", server.DefaultRatePerMember), "each member's request rate limit, per second (0: none) (env CHEMLEDGER_RATE_PER_MEMBER)")
	fs.IntVar(&o.burst, "rate-burst", envInt("CHEMLEDGER_RATE_BURST", server.DefaultRateBurst), "requests a member may send above its rate in a burst (env CHEMLEDGER_RATE_BURST)")
	fs.BoolVar(&o.newAuditTrail, "new-audit-trail", envBool("CHEMLEDGER_NEW_AUDIT_TRAIL"), "start a new audit trail because the old audit.db is lost: only when audit.db is missing or empty; the new trail's first record says so, with the ledger's head (env CHEMLEDGER_NEW_AUDIT_TRAIL)")
	fs.StringVar(&o.witnessPolicy, "witness-policy", env("CHEMLEDGER_WITNESS_POLICY", ""), "witness policy file (Tessera/Sigsum format): feed every witness the log's checkpoints and serve them cosigned; refuse to start if a witness has cosigned a larger tree (env CHEMLEDGER_WITNESS_POLICY)")
	fs.StringVar(&o.webhookCA, "webhook-ca", env("CHEMLEDGER_WEBHOOK_CA", ""), "CA certificate (PEM) webhook endpoints' certificates must chain to (env CHEMLEDGER_WEBHOOK_CA; default: the system roots)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkNumericEnv(fs, "max-batch", "db-max-size", "rate-per-member", "rate-burst"); err != nil {
		return o, err
	}
	if o.verify != "full" && o.verify != "state" {
		return o, fmt.Errorf("--verify-on-start: %q is not full or state", o.verify)
	}
	if o.demo != "" && !o.dev {
		return o, errors.New("--demo needs --dev: it signs with the demo members' keys")
	}
	return o, nil
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// envInt and envFloat are the fallbacks of numeric flags, shown in the
// help as the default; a value that does not parse is refused by
// parseFlags (checkNumericEnv), not silently replaced by the default.
func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}

func envFloat(key string, def float64) float64 {
	if f, err := strconv.ParseFloat(os.Getenv(key), 64); err == nil {
		return f
	}
	return def
}

// checkNumericEnv refuses a numeric fallback that does not parse, as the
// flag itself would be refused, unless the flag was given.
func checkNumericEnv(fs *flag.FlagSet, names ...string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range names {
		key := "CHEMLEDGER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok && !given[name] {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q (the fallback of --%s): %w", key, v, name, err)
			}
		}
	}
	return nil
}

func envBool(key string) bool {
	v := strings.ToLower(os.Getenv(key))
	return v == "1" || v == "true" || v == "yes"
}

func newLogger(o options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", o.logFormat)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := failpoint.Err(); err != nil {
		return err
	}
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			args = args[1:]
		case "init":
			return helpOK(runInit(args[1:], stdout, stderr))
		case "ca":
			return helpOK(runCA(args[1:], stdout, stderr))
		case "backup":
			return helpOK(runBackup(ctx, args[1:], stderr))
		case "restore":
			if slices.ContainsFunc(args[1:], func(a string) bool {
				return strings.HasPrefix(a, "--from-mirror") || strings.HasPrefix(a, "-from-mirror")
			}) {
				return helpOK(runRestoreFromMirror(ctx, args[1:], stderr))
			}
			return helpOK(runRestore(args[1:], stderr))
		case "mirror":
			return helpOK(runMirror(ctx, args[1:], stderr))
		case "rebuild":
			return helpOK(runRebuild(args[1:], stderr))
		case "help", "-h", "-help", "--help":
			printUsage(stdout)
			return nil
		default:
			// Plain `chemledgerd [flags]` is serve, as before there were
			// subcommands; a word that is no flag is a mistyped command.
			if !strings.HasPrefix(args[0], "-") {
				return fmt.Errorf("unknown command %q (chemledgerd help lists them)", args[0])
			}
		}
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	// The ops listener comes up first, so that an orchestrator sees the
	// process live (and not ready) during a long start-up check.
	ops, opsLis, stopOps, err := startOps(ctx, o.opsAddr, log)
	if err != nil {
		return err
	}
	defer stopOps()
	layout := datadir.Layout{Dir: o.dataDir}
	files, err := datadir.Inspect(layout)
	if err != nil {
		return err
	}
	if o.dev {
		log.Warn("development mode: keys are created in the data dir; never use this for real data", "data_dir", o.dataDir)
		// Dev mode creates a log only where there is nothing of one; a
		// missing key or ledger next to the rest is refused below, as in
		// production.
		if !files.Empty() {
			if err := checkLogFiles(layout, files); err != nil {
				return fmt.Errorf("refusing to serve: %w", err)
			}
		}
		if err := datadir.EnsureDev(layout); err != nil {
			return fmt.Errorf("prepare dev data dir: %w", err)
		}
		if files.Empty() {
			keys, err := datadir.ReadLogKeys(layout)
			if err != nil {
				return err
			}
			if err := initLog(layout, keys, log); err != nil {
				return fmt.Errorf("create the development log: %w", err)
			}
		}
	} else if err := checkLogFiles(layout, files); err != nil {
		return fmt.Errorf("refusing to serve: %w", err)
	}
	logKeys, err := datadir.ReadLogKeys(layout)
	if err != nil {
		return err
	}
	signer, verifier, vkey := logKeys.Signer, logKeys.Verifier, logKeys.VerifierKey
	reg, err := members.Load(layout.Members())
	if err != nil {
		return err
	}

	sopts := storage.DefaultOptions()
	sopts.MaxSize = o.dbMaxSize
	store, err := storage.Open(layout.DB(), sopts)
	if err != nil {
		return err
	}
	defer store.Close()

	lcfg := ledger.DefaultConfig(signer, verifier)
	lcfg.Logger = log
	lcfg.MaxBatch = o.maxBatch
	lcfg.Describe = server.Describe
	if o.verify == "state" {
		lcfg.VerifyOnOpen = ledger.VerifyState
	}
	l, err := ledger.Open(store, lcfg)
	if errors.Is(err, ledger.ErrNoLog) {
		return fmt.Errorf("refusing to serve: %w: %s is not this log's ledger (it holds no signed checkpoint) while %s holds the log's signing key; restore ledger.db from a backup; a new log is created only by `chemledgerd init` in an empty data dir", err, layout.DB(), layout.LogKey())
	}
	if err != nil {
		return fmt.Errorf("refusing to serve: %w", err)
	}
	defer l.Close()
	// Before any listener opens: the audit trail and the ledger vouch for
	// each other's head (anchor.go).
	auditLog, err := openAuditTrail(layout, l, o.newAuditTrail, log)
	if err != nil {
		return fmt.Errorf("refusing to serve: %w", err)
	}
	defer auditLog.Close()
	feeder, err := startWitnessing(ctx, o.witnessPolicy, l, log)
	if err != nil {
		return err
	}

	grpcLis, err := net.Listen("tcp", o.grpcAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	httpLis, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	dcfg, err := deriveConfig(o.policy, log)
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return err
	}
	d, err := derive.Open(store, l, dcfg)
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return fmt.Errorf("open detector: %w", err)
	}
	go d.Run(ctx)

	scfg := server.DefaultConfig()
	scfg.Logger = log
	scfg.RatePerMember, scfg.RateBurst = o.rate, o.burst
	scfg.InsecurePlaintext = o.insecurePlaintext
	if scfg.Webhooks, err = webhookConfig(o.dataDir, o.webhookCA); err != nil {
		return err
	}
	if !o.insecurePlaintext {
		if scfg.TLS, scfg.GatewayTLS, err = serverTLS(o, layout, reg); err != nil {
			grpcLis.Close()
			httpLis.Close()
			return err
		}
	}
	writes := &anchorWrites{}
	deps := server.Deps{Ledger: l, Members: reg, VerifierKey: vkey, Deriver: d, Policy: dcfg.Policy, Audit: auditLog,
		Backup: backupSource{writes: writes, store: store, l: l, a: auditLog}}
	if feeder != nil {
		deps.Checkpoints = feeder
	}
	srv, err := server.New(scfg, deps)
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return err
	}
	ops.Attach(srv)
	cp, _ := l.Checkpoint()
	log.Info("serving", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String(), "ops", opsLis.Addr().String(),
		"origin", l.Origin(), "size", cp.Size, "members", len(reg.Members()))

	if o.readyFile != "" {
		if err := writeReadyFile(o.readyFile, grpcLis.Addr().String(), httpLis.Addr().String(), opsLis.Addr().String()); err != nil {
			grpcLis.Close()
			httpLis.Close()
			return err
		}
	}
	if o.demo != "" {
		go func() {
			conns := newDemoConns(grpcLis.Addr().String(), httpLis.Addr().String(), layout, vkey, o.insecurePlaintext)
			if err := runDemo(ctx, o.demo, conns, stderr); err != nil {
				log.Error("demo failed", "err", err)
			}
		}()
	}
	an := startAnchors(ctx, writes, auditLog, l, log)
	err = srv.Serve(ctx, grpcLis, httpLis)
	// Save the detector's state, so the next start folds nothing.
	if cerr := d.Checkpoint(); cerr != nil {
		log.Warn("could not save the detector's state; the next start will refold the log", "err", cerr)
	}
	// Nothing more is submitted or read: bring both anchors up to the
	// final heads, so a graceful stop leaves no lag to roll back into.
	an.stop()
	l.Close()
	if aerr := recordHeads(auditLog, l); aerr != nil {
		log.Error("could not record the final heads of the ledger and the audit trail", "err", aerr)
	}
	log.Info("stopped")
	return err
}

// serverTLS loads the listeners' and the gateway's TLS: the paths given,
// else (in dev mode) the development PKI in the data directory.
func serverTLS(o options, layout datadir.Layout, reg *members.Registry) (srv, gw *tls.Config, err error) {
	dev := layout.TLS()
	or := func(v, devPath string) string {
		if v == "" && o.dev {
			return devPath
		}
		return v
	}
	ca, cert, key := or(o.tlsCA, dev.CA()), or(o.tlsCert, dev.ServerCert()), or(o.tlsKey, dev.ServerKey())
	gwCert, gwKey := or(o.gatewayCert, dev.GatewayCert()), or(o.gatewayKey, dev.GatewayKey())
	if ca == "" || cert == "" || key == "" || gwCert == "" || gwKey == "" {
		return nil, nil, errors.New("TLS needs --tls-ca, --tls-cert, --tls-key, --gateway-cert and --gateway-key (or --dev for development certificates, or --insecure-dev-plaintext)")
	}
	if srv, err = pki.LoadServer(ca, cert, key, reg.Revoked); err != nil {
		return nil, nil, fmt.Errorf("server TLS: %w", err)
	}
	if gw, err = pki.LoadClient(ca, gwCert, gwKey); err != nil {
		return nil, nil, fmt.Errorf("gateway TLS: %w", err)
	}
	return srv, gw, nil
}

// deriveConfig is the detector's configuration, with the policy file when
// one is named.
func deriveConfig(policyFile string, log *slog.Logger) (derive.Config, error) {
	c := derive.DefaultConfig()
	c.Logger = log
	if policyFile != "" {
		b, err := os.ReadFile(policyFile)
		if err != nil {
			return c, fmt.Errorf("read policy: %w", err)
		}
		if c.Policy, err = detect.ParsePolicy(b); err != nil {
			return c, fmt.Errorf("policy %s: %w", policyFile, err)
		}
	}
	return c, nil
}

// writeReadyFile writes the bound addresses atomically, so a reader never
// sees half a file.
// startOps opens the ops listener on addr and serves it until the returned
// stop is called.
func startOps(ctx context.Context, addr string, log *slog.Logger) (*server.Ops, net.Listener, func(), error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		// The first port taken, so a second chemledgerd meets it here,
		// before the data directory's lock would have told it.
		return nil, nil, nil, fmt.Errorf("listen for ops: %w (is another chemledgerd running? --ops-addr picks another address)", err)
	}
	ops := server.NewOps(log)
	opsCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ops.Serve(opsCtx, lis) }()
	return ops, lis, func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("ops listener", "err", err)
		}
	}, nil
}

func writeReadyFile(path, grpcAddr, httpAddr, opsAddr string) error {
	b, err := json.Marshal(map[string]string{"grpc": grpcAddr, "http": httpAddr, "ops": opsAddr})
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	return os.Rename(tmp, path)
}

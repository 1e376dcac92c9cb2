package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/witness"
)

// app holds the global flags every verb shares.
type app struct {
	server  string
	dataDir string
	logKey  string
	// TLS: the CA that issued the server's certificate, this client's
	// certificate and key, or plaintext to a development server.
	ca, cert, key string
	insecure      bool
	// as is the member the CLI authenticates as for reads, with the
	// development certificates.
	as string
	// keyringDir, set by submit --keyring, holds the member homes whose
	// certificates the per-member connections use.
	keyringDir string
	// witnessPolicy, when set, is a witness policy file: checkpoints are
	// accepted only with its quorum of cosignatures.
	witnessPolicy string
	timeout       time.Duration
	getenv        func(string) string
}

// envFallbacks names the environment variable behind each global flag; an
// explicit flag wins.
var envFallbacks = map[string]string{
	"server":   "CHEMLEDGER_SERVER",
	"data-dir": "CHEMLEDGER_DATA_DIR",
	"log-key":  "CHEMLEDGER_LOG_KEY",
	"ca":       "CHEMLEDGER_CA",
	"cert":     "CHEMLEDGER_CERT",
	"key":      "CHEMLEDGER_KEY",
	"insecure": "CHEMLEDGER_INSECURE",
	"as":       "CHEMLEDGER_AS",
	// The same variable as the service's: one policy file for a site.
	"witness-policy": "CHEMLEDGER_WITNESS_POLICY",
}

func newRootCmd(getenv func(string) string) *cobra.Command {
	a := &app{getenv: getenv}
	root := &cobra.Command{
		Use:   "chemledger",
		Short: "Submit shipment events to a chemledger log, audit it, and work its flags",
		Long: `chemledger signs and submits shipment events to a chemledger log, reads its
entries and signed checkpoints, and verifies inclusion and consistency
proofs. Every answer from the log is checked against the log's key.

For analysts it lists and shows the flags the detection engine raised, with
their evidence verified to be in the log ("flags"), records signed decisions
on them ("flags dispose"), follows a shipment across members ("shipment
show"), and prints the rule catalogue ("rules") and flag counts ("stats").`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.applyEnv(cmd) },
	}
	f := root.PersistentFlags()
	f.StringVar(&a.server, "server", "127.0.0.1:7070", "gRPC address of the log (env CHEMLEDGER_SERVER)")
	f.StringVar(&a.dataDir, "data-dir", "./chemledger-data", "data directory: member keys in keys/, the log's key in log.pub (env CHEMLEDGER_DATA_DIR)")
	f.StringVar(&a.logKey, "log-key", "", "file with the log's note verifier key (env CHEMLEDGER_LOG_KEY; default DATA_DIR/log.pub if present, else trust the server's key on first use)")
	f.DurationVar(&a.timeout, "timeout", time.Minute, "time limit for the whole command (0: none)")
	f.StringVar(&a.ca, "ca", "", "CA certificate (PEM) that issued the server's certificate (env CHEMLEDGER_CA; default DATA_DIR/tls/ca.pem)")
	f.StringVar(&a.cert, "cert", "", "this member's client certificate (PEM) (env CHEMLEDGER_CERT; default: the development certificate in DATA_DIR/tls for the member and the role the command needs)")
	f.StringVar(&a.key, "key", "", "the client certificate's private key (PEM) (env CHEMLEDGER_KEY)")
	f.BoolVar(&a.insecure, "insecure", false, "plaintext, for a server started with --insecure-dev-plaintext (env CHEMLEDGER_INSECURE)")
	f.StringVar(&a.as, "as", "", "development mode: the member whose certificate reads use (env CHEMLEDGER_AS; default US-CBP)")
	f.StringVar(&a.witnessPolicy, "witness-policy", "", "witness policy file (Tessera/Sigsum format): accept a checkpoint, a receipt or a proof only with the policy's quorum of witness cosignatures (env CHEMLEDGER_WITNESS_POLICY)")
	root.AddCommand(
		newSubmitCmd(a),
		newGetCmd(a),
		newListCmd(a),
		newCheckpointCmd(a),
		newVerifyCmd(a),
		newKeygenCmd(a),
		newFlagsCmd(a),
		newShipmentCmd(a),
		newRulesCmd(a),
		newStatsCmd(a),
		newScorecardCmd(a),
		newCaseCmd(a),
		newReportCmd(a),
		newAuditCmd(a),
		newMemberCmd(a),
		newWatchCmd(a),
		newWebhookCmd(a),
	)
	return root
}

func (a *app) applyEnv(cmd *cobra.Command) error {
	for name, env := range envFallbacks {
		fl := cmd.Flags().Lookup(name)
		if fl == nil || fl.Changed {
			continue
		}
		if v := a.getenv(env); v != "" {
			if err := fl.Value.Set(v); err != nil {
				return fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	}
	return nil
}

func (a *app) layout() datadir.Layout { return datadir.Layout{Dir: a.dataDir} }

// context bounds a command by --timeout.
func (a *app) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	if a.timeout <= 0 {
		return context.WithCancel(cmd.Context())
	}
	return context.WithTimeout(cmd.Context(), a.timeout)
}

// dial connects to the log with the verifier key from --log-key, else the
// data directory's log.pub, else whatever key the log presents, with a
// warning naming it so the user can pin it.
// readWitnessPolicy reads --witness-policy, or returns nil without one.
func (a *app) readWitnessPolicy() (*witness.Policy, error) {
	if a.witnessPolicy == "" {
		return nil, nil
	}
	b, err := os.ReadFile(a.witnessPolicy)
	if err != nil {
		return nil, fmt.Errorf("read witness policy: %w", err)
	}
	p, err := witness.ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.witnessPolicy, err)
	}
	return p, nil
}

func (a *app) dial(ctx context.Context, stderr io.Writer, member, role string) (*client.Client, error) {
	vkey, err := a.logVerifierKey()
	if err != nil {
		return nil, err
	}
	var opts []client.Option
	if p, err := a.readWitnessPolicy(); err != nil {
		return nil, err
	} else if p != nil {
		opts = append(opts, client.WithWitnessPolicy(p))
	}
	if vkey != "" {
		opts = append(opts, client.WithLogVerifierKey(vkey))
	}
	if !a.insecure {
		cfg, err := a.tlsConfig(member, role)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	c, err := client.Dial(a.server, opts...)
	if err != nil {
		return nil, err
	}
	if vkey == "" {
		got, err := c.LogVerifierKey(ctx)
		if err != nil {
			c.Close()
			return nil, err
		}
		fmt.Fprintf(stderr, "warning: no log verifier key (--log-key, or %s); trusting the key %s presents: %s\n", a.layout().LogPub(), a.server, got)
	}
	return c, nil
}

func (a *app) logVerifierKey() (string, error) {
	if a.logKey != "" {
		b, err := os.ReadFile(a.logKey)
		if err != nil {
			return "", fmt.Errorf("read log verifier key: %w", err)
		}
		vkey := strings.TrimSpace(string(b))
		if _, err := note.NewVerifier(vkey); err != nil {
			return "", fmt.Errorf("log verifier key %s: %w", a.logKey, err)
		}
		return vkey, nil
	}
	l := a.layout()
	if _, err := os.Stat(l.LogPub()); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	// Present but unreadable or malformed is an error, never a silent fall
	// back to trusting the server.
	return datadir.ReadLogVerifierKey(l)
}

// withClient runs fn with a client of the log authenticated as member (""
// for --as) in role, within --timeout, and closes it after.
func (a *app) withClient(cmd *cobra.Command, member, role string, fn func(ctx context.Context, c *client.Client) error) error {
	ctx, cancel := a.context(cmd)
	defer cancel()
	c, err := a.dial(ctx, cmd.ErrOrStderr(), member, role)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(ctx, c)
}

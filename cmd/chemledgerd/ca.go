package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/chemledger/chemledger/internal/atomicfile"
	"github.com/chemledger/chemledger/pki"
)

// caUsage is `chemledgerd ca --help`.
const caUsage = `usage:
  chemledgerd ca init    --ca-dir DIR [--name NAME] [--years N]
  chemledgerd ca sign    --ca-dir DIR --csr FILE --out CERT.pem [--role ROLE] [--days N]
  chemledgerd ca service --ca-dir DIR --hosts HOST,... --out-dir TLSDIR [--days N]

The coalition CA issues every member's client certificate and the service's
own. "init" makes the CA's key and certificate (DIR/ca.key, DIR/ca.pem; keep
ca.key offline). "sign" signs a member's certificate request (tls.csr from
"chemledger member init") without ever seeing the member's key; --role
narrows the certificate to one role, else it carries every role the registry
grants. "service" makes the service's server and gateway certificates on the
machine that runs it (TLSDIR/server.pem, server.key, gateway.pem,
gateway.key and a copy of ca.pem), for --tls-ca, --tls-cert, --tls-key,
--gateway-cert and --gateway-key. A coalition with a CA of its own passes
that CA's files instead (docs/operations.md says how with openssl).
`

// runCA is `chemledgerd ca init|sign|service`.
func runCA(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, caUsage)
		if len(args) == 0 {
			return errors.New("ca: name a verb: init, sign or service")
		}
		return nil
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("chemledgerd ca "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	caDir := fs.String("ca-dir", env("CHEMLEDGER_CA_DIR", ""), "the CA's directory: ca.pem and ca.key (env CHEMLEDGER_CA_DIR) (required)")
	cert := func() string { return filepath.Join(*caDir, "ca.pem") }
	key := func() string { return filepath.Join(*caDir, "ca.key") }
	switch verb {
	case "init":
		name := fs.String("name", env("CHEMLEDGER_CA_NAME", "chemledger coalition CA"), "the CA's common name (env CHEMLEDGER_CA_NAME)")
		years := fs.Int("years", envInt("CHEMLEDGER_CA_YEARS", 10), "how long the CA is valid (env CHEMLEDGER_CA_YEARS)")
		if err := parseCA(fs, args, caDir); err != nil {
			return err
		}
		ca, err := pki.InitCA(*name, cert(), key(), *years)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(ca.Cert.Raw)
		_, err = fmt.Fprintf(stdout, "made CA %q valid until %s\n  certificate %s (give it to every member and the service)\n  key         %s (keep it offline)\n  SHA-256     %s\n",
			*name, ca.Cert.NotAfter.Format(time.DateOnly), cert(), key(), hex.EncodeToString(sum[:]))
		return err
	case "sign":
		csrPath := fs.String("csr", env("CHEMLEDGER_CA_CSR", ""), "the member's certificate request (env CHEMLEDGER_CA_CSR) (required)")
		out := fs.String("out", env("CHEMLEDGER_CA_OUT", ""), "the certificate to write (env CHEMLEDGER_CA_OUT) (required)")
		role := fs.String("role", env("CHEMLEDGER_CA_ROLE", ""), "narrow the certificate to one role (default: every role the registry grants) (env CHEMLEDGER_CA_ROLE)")
		days := fs.Int("days", envInt("CHEMLEDGER_CA_DAYS", 365), "validity in days (env CHEMLEDGER_CA_DAYS)")
		if err := parseCA(fs, args, caDir); err != nil {
			return err
		}
		if *csrPath == "" || *out == "" {
			return errors.New("ca sign: --csr and --out are required")
		}
		ca, err := pki.LoadCA(cert(), key())
		if err != nil {
			return err
		}
		csr, id, err := pki.ReadRequest(*csrPath)
		if err != nil {
			return err
		}
		pemBytes, err := ca.SignRequest(csr, id, *role, time.Duration(*days)*24*time.Hour)
		if err != nil {
			return err
		}
		if err := atomicfile.Create(*out, pemBytes, 0o644); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "signed %s for %s, valid %d days: %s\n", *csrPath, pki.URI(id.Member, *role), *days, *out)
		return err
	case "service":
		hosts := fs.String("hosts", env("CHEMLEDGER_CA_HOSTS", "localhost,127.0.0.1,::1"), "the names and addresses clients reach the service at (env CHEMLEDGER_CA_HOSTS)")
		outDir := fs.String("out-dir", env("CHEMLEDGER_CA_OUT_DIR", ""), "the directory to write the certificates into (env CHEMLEDGER_CA_OUT_DIR) (required)")
		days := fs.Int("days", envInt("CHEMLEDGER_CA_DAYS", 365), "validity in days (env CHEMLEDGER_CA_DAYS)")
		if err := parseCA(fs, args, caDir); err != nil {
			return err
		}
		if *outDir == "" {
			return errors.New("ca service: --out-dir is required")
		}
		ca, err := pki.LoadCA(cert(), key())
		if err != nil {
			return err
		}
		l := pki.Layout{Dir: *outDir}
		if err := ca.IssueService(l, strings.Split(*hosts, ","), time.Duration(*days)*24*time.Hour); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "issued the service's certificates in %s:\n  --tls-ca %s --tls-cert %s --tls-key %s --gateway-cert %s --gateway-key %s\n",
			*outDir, l.CA(), l.ServerCert(), l.ServerKey(), l.GatewayCert(), l.GatewayKey())
		return err
	}
	fmt.Fprint(stderr, caUsage)
	return fmt.Errorf("ca: unknown verb %q", verb)
}

func parseCA(fs *flag.FlagSet, args []string, caDir *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkNumericEnv(fs, "years", "days"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *caDir == "" {
		return errors.New("--ca-dir is required")
	}
	return nil
}

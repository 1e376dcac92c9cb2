package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/chemledger/chemledger/internal/atomicfile"
)

// Layout names the files of a PKI directory. Dev mode keeps it in
// <datadir>/tls:
//
//	ca.pem, ca.key                     the CA (its key only in dev mode)
//	server.pem, server.key             both listeners' certificate
//	gateway.pem, gateway.key           the HTTP gateway's client certificate
//	clients/<MEMBER>/<role>.pem, .key  a member's client certificate in one role
//	clients/<MEMBER>/member.pem, .key  a member's certificate for all its roles
type Layout struct{ Dir string }

// CA is the CA certificate.
func (l Layout) CA() string { return filepath.Join(l.Dir, "ca.pem") }

// CAKey is the CA's private key; only a development PKI keeps it here.
func (l Layout) CAKey() string { return filepath.Join(l.Dir, "ca.key") }

// ServerCert is the listeners' certificate.
func (l Layout) ServerCert() string { return filepath.Join(l.Dir, "server.pem") }

// ServerKey is the listeners' private key.
func (l Layout) ServerKey() string { return filepath.Join(l.Dir, "server.key") }

// GatewayCert is the HTTP gateway's client certificate.
func (l Layout) GatewayCert() string { return filepath.Join(l.Dir, "gateway.pem") }

// GatewayKey is the HTTP gateway's private key.
func (l Layout) GatewayKey() string { return filepath.Join(l.Dir, "gateway.key") }

// ClientCert is member's client certificate in role; role "" is the
// certificate for every role the member holds.
func (l Layout) ClientCert(member, role string) string { return l.client(member, role) + ".pem" }

// ClientKey is the private key of ClientCert(member, role).
func (l Layout) ClientKey(member, role string) string { return l.client(member, role) + ".key" }

func (l Layout) client(member, role string) string {
	if role == "" {
		role = "member"
	}
	return filepath.Join(l.Dir, "clients", member, role)
}

// Validity of what EnsureDev issues.
const (
	devCAYears   = 10
	devLeafYears = 1
	devCAName    = "chemledger development CA"
)

// devLeaf is one certificate EnsureDev makes sure of.
type devLeaf struct {
	cert, key string
	spec      CertSpec
}

// EnsureDev creates what is missing of a development PKI in l: a CA valid
// for 10 years; a server certificate for localhost, 127.0.0.1 and ::1; the
// gateway's client certificate; and for every member one client certificate
// per role in Roles, each valid for a year. Private keys are 0600 and
// directories 0700.
//
// It never replaces a file, so a restart keeps every certificate already
// handed out. Files are written whole or not at all, key before
// certificate; a key left without its certificate by an interrupted run
// gets one. What cannot be repaired without replacing something (a
// certificate without its key, a certificate another CA issued, an expired
// certificate, a missing CA key when something must be issued) is an error
// naming the file to remove.
func EnsureDev(l Layout, members []string) error {
	for _, m := range members {
		if !MemberIDPattern.MatchString(m) {
			return fmt.Errorf("dev PKI: member %q does not match %s", m, MemberIDPattern)
		}
	}
	now := time.Now()
	leaves := devLeaves(l, members, now)
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return fmt.Errorf("dev PKI: %w", err)
	}
	ca, err := ensureDevCA(l, leaves, now)
	if err != nil {
		return fmt.Errorf("dev PKI: %w", err)
	}
	for _, lf := range leaves {
		if err := ensureLeaf(ca, lf, now); err != nil {
			return fmt.Errorf("dev PKI: %w", err)
		}
	}
	return nil
}

func devLeaves(l Layout, members []string, now time.Time) []devLeaf {
	notBefore := now.Add(-clockSkew)
	notAfter := now.AddDate(devLeafYears, 0, 0)
	client := func(uri, cn string) CertSpec {
		return CertSpec{
			URIs:        []string{uri},
			CommonName:  cn,
			NotBefore:   notBefore,
			NotAfter:    notAfter,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
	}
	leaves := []devLeaf{
		{l.ServerCert(), l.ServerKey(), CertSpec{
			CommonName:  "chemledger server",
			DNSNames:    []string{"localhost"},
			IPs:         []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			NotBefore:   notBefore,
			NotAfter:    notAfter,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}},
		{l.GatewayCert(), l.GatewayKey(), client(GatewayURI, "gateway")},
	}
	for _, m := range members {
		for _, r := range Roles {
			id := Identity{Member: m, Role: r}
			leaves = append(leaves, devLeaf{l.ClientCert(m, r), l.ClientKey(m, r), client(URI(m, r), id.String())})
		}
	}
	return leaves
}

// ensureDevCA loads the CA, or creates it when neither of its files exists.
func ensureDevCA(l Layout, leaves []devLeaf, now time.Time) (*CA, error) {
	certOK, err := exists(l.CA())
	if err != nil {
		return nil, err
	}
	keyOK, err := exists(l.CAKey())
	if err != nil {
		return nil, err
	}
	switch {
	case certOK && keyOK:
		return LoadCA(l.CA(), l.CAKey())
	case certOK:
		// Enough to check what exists; issuing anything will fail, naming
		// the missing key.
		cert, err := readCert(l.CA())
		if err != nil {
			return nil, err
		}
		return &CA{Cert: cert}, nil
	case keyOK:
		// An interrupted first run: the key was written, its certificate
		// not. Certifying the same key keeps anything it signed valid.
		key, err := readKey(l.CAKey())
		if err != nil {
			return nil, err
		}
		ca, err := newCA(devCAName, key, now.Add(-clockSkew), now.AddDate(devCAYears, 0, 0))
		if err != nil {
			return nil, err
		}
		return ca, writeCert(l.CA(), ca.Cert.Raw)
	}
	// A fresh CA would leave certificates from the lost one unverifiable;
	// say so instead of failing later at every handshake.
	for _, lf := range leaves {
		for _, p := range []string{lf.cert, lf.key} {
			if ok, err := exists(p); err != nil {
				return nil, err
			} else if ok {
				return nil, fmt.Errorf("%s and %s are missing but %s exists: remove %s to start a new PKI", l.CA(), l.CAKey(), p, l.Dir)
			}
		}
	}
	ca, err := NewCA(devCAName, now.Add(-clockSkew), now.AddDate(devCAYears, 0, 0))
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Create(l.CAKey(), keyPEM, 0o600); err != nil {
		return nil, err
	}
	return ca, writeCert(l.CA(), ca.Cert.Raw)
}

// ensureLeaf checks an existing certificate or issues a missing one.
func ensureLeaf(ca *CA, lf devLeaf, now time.Time) error {
	certOK, err := exists(lf.cert)
	if err != nil {
		return err
	}
	keyOK, err := exists(lf.key)
	if err != nil {
		return err
	}
	switch {
	case certOK && keyOK:
		c, err := tls.LoadX509KeyPair(lf.cert, lf.key)
		if err != nil {
			return fmt.Errorf("%s: %w", lf.cert, err)
		}
		if err := c.Leaf.CheckSignatureFrom(ca.Cert); err != nil {
			return fmt.Errorf("%s was not issued by %s (%v): remove it and %s to reissue", lf.cert, ca.Cert.Subject.CommonName, err, lf.key)
		}
		if now.After(c.Leaf.NotAfter) {
			return fmt.Errorf("%s expired at %s: remove it and %s to reissue", lf.cert, c.Leaf.NotAfter.Format(time.RFC3339), lf.key)
		}
		return nil
	case certOK:
		return fmt.Errorf("%s exists without its key %s: remove it to reissue", lf.cert, lf.key)
	}
	if ca.Key == nil {
		return fmt.Errorf("cannot issue %s: the CA key is missing", lf.cert)
	}
	if err := os.MkdirAll(filepath.Dir(lf.cert), 0o700); err != nil {
		return err
	}
	var c tls.Certificate
	if keyOK {
		key, err := readKey(lf.key)
		if err != nil {
			return err
		}
		c, err = ca.issue(lf.spec, key)
		if err != nil {
			return err
		}
	} else {
		c, err = ca.Issue(lf.spec)
		if err != nil {
			return err
		}
		keyPEM, err := encodeKey(c.PrivateKey)
		if err != nil {
			return err
		}
		if err := atomicfile.Create(lf.key, keyPEM, 0o600); err != nil {
			return err
		}
	}
	return writeCert(lf.cert, c.Certificate[0])
}

func writeCert(path string, der []byte) error {
	return atomicfile.Create(path, pemCerts([][]byte{der}), 0o644)
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/chemledger/chemledger/internal/atomicfile"
)

// A member joining the coalition makes its TLS key and a certificate signing
// request on its own machine (NewRequest); the CA operator signs the request
// (CA.SignRequest) without ever seeing the key. That keeps the one rule of a
// PKI that the development CA, which issues keys itself, does not: no private
// key leaves the machine that uses it.

// NewRequest creates a fresh ECDSA P-256 key and a certificate signing
// request for member's identity URI (every role the registry grants it),
// written as PEM to keyPath (mode 0600) and csrPath. Neither file is
// overwritten.
func NewRequest(member, keyPath, csrPath string) error {
	if !MemberIDPattern.MatchString(member) {
		return fmt.Errorf("member id %q: want a country code, a dash and an agency name in capitals, like CA-CBSA", member)
	}
	for _, p := range []string{keyPath, csrPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists; not replacing it", p)
		}
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	u, err := url.Parse(URI(member, ""))
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: member},
		URIs:    []*url.URL{u},
	}, key)
	if err != nil {
		return fmt.Errorf("certificate request for %s: %w", member, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return atomicfile.Write(csrPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644)
}

// ReadRequest reads and checks a PEM certificate signing request: its
// signature, and that it names exactly one member identity. It returns the
// request and the identity.
func ReadRequest(path string) (*x509.CertificateRequest, Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Identity{}, fmt.Errorf("read certificate request: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, Identity{}, fmt.Errorf("certificate request %s: no CERTIFICATE REQUEST PEM block", path)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, Identity{}, fmt.Errorf("certificate request %s: %w", path, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, Identity{}, fmt.Errorf("certificate request %s: signature: %w", path, err)
	}
	id, err := nameOf(&x509.Certificate{URIs: csr.URIs, Subject: csr.Subject})
	if err != nil {
		return nil, Identity{}, fmt.Errorf("certificate request %s: %w", path, err)
	}
	if id.Gateway || id.Member == "" {
		return nil, Identity{}, fmt.Errorf("certificate request %s names %s, not a member", path, id)
	}
	return csr, id, nil
}

// SignRequest issues a client certificate for a checked request (see
// ReadRequest) to the request's own key. role narrows the certificate to one
// role ("" for every role the registry grants the member); validity is its
// lifetime from now.
func (ca *CA) SignRequest(csr *x509.CertificateRequest, id Identity, role string, validity time.Duration) ([]byte, error) {
	if ca.Key == nil {
		return nil, errors.New("sign request: the CA was loaded without its key")
	}
	if role != "" && !slices.Contains(Roles, role) {
		return nil, fmt.Errorf("role %q is not one of %v", role, Roles)
	}
	if id.Role != "" && role != "" && id.Role != role {
		return nil, fmt.Errorf("the request names role %s, not %s", id.Role, role)
	}
	if role == "" {
		role = id.Role
	}
	u, err := url.Parse(URI(id.Member, role))
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: id.Member},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		URIs:                  []*url.URL{u},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign request of %s: %w", id, err)
	}
	return pemCerts([][]byte{der}), nil
}

// InitCA creates a coalition CA (ECDSA P-256, valid for years from now) and
// writes its certificate and key; it refuses to replace either.
func InitCA(name, certPath, keyPath string, years int) (*CA, error) {
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s exists; a CA is never replaced (every certificate it issued would stop working)", p)
		}
	}
	now := time.Now()
	ca, err := NewCA(name, now.Add(-clockSkew), now.AddDate(years, 0, 0))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return nil, err
	}
	if err := WritePEM(certPath, keyPath, ca.TLS()); err != nil {
		return nil, err
	}
	return ca, nil
}

// TLS is the CA's certificate and key as a tls.Certificate, for WritePEM.
func (ca *CA) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{ca.Cert.Raw}, PrivateKey: ca.Key, Leaf: ca.Cert}
}

// IssueService issues the service's own certificates into l, from the CA:
// the server certificate for hosts (DNS names and IP addresses) and the
// gateway's client certificate for its hop to the gRPC listener, each with
// a fresh key, valid for validity; and a copy of the CA certificate as
// l.CA(). It refuses to replace an existing file. This is for the operator's
// own machine, where the service runs: its keys never travel either.
func (ca *CA) IssueService(l Layout, hosts []string, validity time.Duration) error {
	if len(hosts) == 0 {
		return errors.New("issue service certificates: no host names")
	}
	for _, p := range []string{l.CA(), l.ServerCert(), l.ServerKey(), l.GatewayCert(), l.GatewayKey()} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists; not replacing it", p)
		}
	}
	now := time.Now()
	server := CertSpec{CommonName: "chemledger server", NotBefore: now.Add(-clockSkew), NotAfter: now.Add(validity),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			server.IPs = append(server.IPs, ip)
		} else {
			server.DNSNames = append(server.DNSNames, h)
		}
	}
	gateway := CertSpec{URIs: []string{GatewayURI}, CommonName: "gateway", NotBefore: server.NotBefore, NotAfter: server.NotAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return err
	}
	if err := atomicfile.Create(l.CA(), pemCerts([][]byte{ca.Cert.Raw}), 0o644); err != nil {
		return err
	}
	for _, x := range []struct {
		cert, key string
		spec      CertSpec
	}{{l.ServerCert(), l.ServerKey(), server}, {l.GatewayCert(), l.GatewayKey(), gateway}} {
		c, err := ca.Issue(x.spec)
		if err != nil {
			return err
		}
		if err := WritePEM(x.cert, x.key, c); err != nil {
			return err
		}
	}
	return nil
}

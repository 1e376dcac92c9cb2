// Package pki gives the service mutual TLS: who a client certificate names
// (Identity), the TLS configurations of the listeners and of clients, a small
// CA for tests and tooling, and a development PKI that the service creates in
// its data directory on first start.
//
// Authentication ends here: a handshake succeeds only for a certificate the
// CA issued, for client use, still valid, not revoked and naming a
// well-formed identity. Whether that member exists and what its roles allow
// is for the members file and package authz.
//
// It must not read the log.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/chemledger/chemledger/internal/atomicfile"
)

// clockSkew backdates certificates whose start the caller left open, so a
// peer whose clock runs a little behind still accepts them.
const clockSkew = 5 * time.Minute

// CertSpec is what Issue puts in a certificate beyond its key and issuer.
type CertSpec struct {
	URIs       []string // URI SANs, e.g. URI("MX-ANAM", RoleAnalyst)
	DNSNames   []string
	IPs        []net.IP
	CommonName string
	// NotBefore defaults to now minus a few minutes, NotAfter to one year
	// after NotBefore.
	NotBefore, NotAfter time.Time
	ExtKeyUsage         []x509.ExtKeyUsage
}

// CA is a certificate authority: its certificate and signing key. Key is nil
// for a CA loaded without its key, which can verify but not issue.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA creates a self-signed CA with a fresh ECDSA P-256 key.
func NewCA(name string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	return newCA(name, key, notBefore, notAfter)
}

func newCA(name string, key crypto.Signer, notBefore, notAfter time.Time) (*CA, error) {
	if name == "" {
		return nil, errors.New("new CA: empty name")
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("new CA %q: not after %v is not later than not before %v", name, notAfter, notBefore)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		// The CA signs leaves only; an intermediate it signed by mistake
		// could not sign further.
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA %q: %w", name, err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA certificate and its private key (PKCS #8 or SEC 1 PEM)
// and checks that they belong together.
func LoadCA(certPath, keyPath string) (*CA, error) {
	cert, err := readCert(certPath)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("CA certificate %s is not a CA certificate", certPath)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("CA key %s does not belong to certificate %s", keyPath, certPath)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Pool is a certificate pool trusting only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue creates a fresh ECDSA P-256 key and a certificate for it signed by
// the CA. The result carries its parsed Leaf.
func (ca *CA) Issue(spec CertSpec) (tls.Certificate, error) {
	key, err := newKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	return ca.issue(spec, key)
}

// issue signs a certificate for an existing key, so that a key left by an
// interrupted run can still get its certificate.
func (ca *CA) issue(spec CertSpec, key crypto.Signer) (tls.Certificate, error) {
	if ca.Key == nil {
		return tls.Certificate{}, fmt.Errorf("issue %q: CA %q has no signing key", spec.CommonName, ca.Cert.Subject.CommonName)
	}
	uris := make([]*url.URL, len(spec.URIs))
	for i, s := range spec.URIs {
		u, err := url.Parse(s)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("issue %q: URI SAN: %w", spec.CommonName, err)
		}
		uris[i] = u
	}
	notBefore, notAfter := spec.NotBefore, spec.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-clockSkew)
	}
	if notAfter.IsZero() {
		notAfter = notBefore.AddDate(1, 0, 0)
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.CommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		URIs:                  uris,
		DNSNames:              spec.DNSNames,
		IPAddresses:           spec.IPs,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           spec.ExtKeyUsage,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue %q: %w", spec.CommonName, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue %q: %w", spec.CommonName, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// newSerial is 128 random bits: unique without any state to keep, which
// revocation by serial relies on.
func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return s, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// WritePEM writes c's certificate chain and private key (PKCS #8), the key
// with mode 0600. Each file is replaced atomically, the key first, so a
// reader never sees half a file.
func WritePEM(certPath, keyPath string, c tls.Certificate) error {
	certPEM, keyPEM, err := encodePEM(c)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certPath, certPEM, 0o644)
}

func encodePEM(c tls.Certificate) (certPEM, keyPEM []byte, err error) {
	if len(c.Certificate) == 0 {
		return nil, nil, errors.New("encode PEM: no certificate")
	}
	keyPEM, err = encodeKey(c.PrivateKey)
	return pemCerts(c.Certificate), keyPEM, err
}

func pemCerts(ders [][]byte) []byte {
	var b []byte
	for _, der := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return b
}

func encodeKey(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// readCert reads the first certificate of a PEM file.
func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("certificate %s: no CERTIFICATE PEM block", path)
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate %s: %w", path, err)
			}
			return cert, nil
		}
	}
}

// readKey reads a PKCS #8 or SEC 1 PEM private key.
func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("private key %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("private key %s: PEM block %q, want PRIVATE KEY or EC PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key %s: %T cannot sign", path, key)
	}
	return s, nil
}

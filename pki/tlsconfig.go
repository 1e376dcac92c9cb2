package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
)

// ErrRevoked is wrapped by the handshake error of a revoked certificate.
var ErrRevoked = errors.New("certificate revoked")

// ServerConfig is the TLS configuration of both listeners (gRPC and the HTTP
// gateway): TLS 1.3 only, and a client certificate that clientCAs issued,
// for client authentication (ExtKeyUsageClientAuth stated, not merely
// implied by an absent extension), naming a valid identity, and not revoked.
//
// revoked (nil for none) is asked on every handshake, resumed ones included,
// so a revocation refuses new connections at once. Each refusal is the
// handshake's error and says why; the server should log it.
func ServerConfig(cert tls.Certificate, clientCAs *x509.CertPool, revoked func(Identity) bool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := PeerIdentity(cs)
			if err != nil && len(cs.PeerCertificates) > 0 {
				// The serial lets an operator find the certificate in
				// question among those the CA issued.
				return fmt.Errorf("client certificate (serial %s): %w", cs.PeerCertificates[0].SerialNumber.Text(16), err)
			}
			if err != nil {
				return fmt.Errorf("client certificate: %w", err)
			}
			leaf := cs.VerifiedChains[0][0]
			if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
				return fmt.Errorf("client certificate %s (serial %s): extended key usage clientAuth missing", id, id.Serial)
			}
			if revoked != nil && revoked(id) {
				return fmt.Errorf("client certificate %s (serial %s): %w", id, id.Serial, ErrRevoked)
			}
			return nil
		},
	}
}

// ClientConfig is a client's TLS configuration: TLS 1.3, cert as its
// identity, and rootCAs as the only issuers it trusts for the server.
func ClientConfig(cert tls.Certificate, rootCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      rootCAs,
	}
}

// LoadClient reads a CA file and a client certificate and key into a
// ClientConfig.
func LoadClient(caPath, certPath, keyPath string) (*tls.Config, error) {
	pool, cert, err := load(caPath, certPath, keyPath)
	if err != nil {
		return nil, err
	}
	return ClientConfig(cert, pool), nil
}

// LoadServer reads the server's certificate and key and the CA that issues
// client certificates into a ServerConfig.
func LoadServer(caPath, certPath, keyPath string, revoked func(Identity) bool) (*tls.Config, error) {
	pool, cert, err := load(caPath, certPath, keyPath)
	if err != nil {
		return nil, err
	}
	return ServerConfig(cert, pool, revoked), nil
}

// Client is the TLS config of member's certificate in role from the
// layout, trusting its CA.
func (l Layout) Client(member, role string) (*tls.Config, error) {
	return LoadClient(l.CA(), l.ClientCert(member, role), l.ClientKey(member, role))
}

// Server is the listeners' TLS config and the gateway's client config from
// the layout.
func (l Layout) Server(revoked func(Identity) bool) (srv, gw *tls.Config, err error) {
	if srv, err = LoadServer(l.CA(), l.ServerCert(), l.ServerKey(), revoked); err != nil {
		return nil, nil, err
	}
	if gw, err = LoadClient(l.CA(), l.GatewayCert(), l.GatewayKey()); err != nil {
		return nil, nil, err
	}
	return srv, gw, nil
}

func load(caPath, certPath, keyPath string) (*x509.CertPool, tls.Certificate, error) {
	b, err := os.ReadFile(caPath)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, tls.Certificate{}, fmt.Errorf("CA %s: no certificate", caPath)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("load %s and %s: %w", certPath, keyPath, err)
	}
	return pool, cert, nil
}

// PeerIdentity is the identity of a connection's verified client
// certificate: the leaf of its first verified chain. Unverified peer
// certificates are never consulted.
func PeerIdentity(cs tls.ConnectionState) (Identity, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}, fmt.Errorf("%w: no verified peer certificate", ErrNoIdentity)
	}
	return IdentityOf(cs.VerifiedChains[0][0])
}

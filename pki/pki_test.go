package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const ioTimeout = 10 * time.Second

func newTestCA(t testing.TB, name string) *CA {
	t.Helper()
	now := time.Now()
	ca, err := NewCA(name, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *CA, spec CertSpec) tls.Certificate {
	t.Helper()
	c, err := ca.Issue(spec)
	if err != nil {
		t.Fatalf("issue %+v: %v", spec, err)
	}
	return c
}

// clientSpec is a valid client certificate naming uri.
func clientSpec(uri string) CertSpec {
	return CertSpec{URIs: []string{uri}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

func serverSpec() CertSpec {
	return CertSpec{
		CommonName:  "test server",
		IPs:         []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

func serialOf(c tls.Certificate) string { return c.Leaf.SerialNumber.Text(16) }

// handshake is what the server saw of one connection.
type handshake struct {
	id        Identity
	err       error // the handshake's or PeerIdentity's error
	didResume bool
}

// startServer serves cfg on 127.0.0.1 and reports every connection's
// handshake on the returned channel. With TLS 1.3 a client learns of its
// rejection only on its first read, so the server's word is the one tests
// assert on. An accepted client is sent one byte.
func startServer(t testing.TB, cfg *tls.Config) (string, <-chan handshake) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan handshake, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(ioTimeout))
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					results <- handshake{err: err}
					return
				}
				cs := tc.ConnectionState()
				id, err := PeerIdentity(cs)
				results <- handshake{id: id, err: err, didResume: cs.DidResume}
				tc.Write([]byte{1})
				tc.Close()
			})
		}
	})
	return ln.Addr().String(), results
}

// dial handshakes with cfg and reads the server's byte: nil means the
// client believes it was accepted.
func dial(t testing.TB, addr string, cfg *tls.Config) error {
	t.Helper()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: ioTimeout}, Config: cfg}
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	_, err = io.ReadFull(c, make([]byte, 1))
	return err
}

func result(t testing.TB, results <-chan handshake) handshake {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(ioTimeout):
		t.Fatal("server reported no handshake")
		return handshake{}
	}
}

// TestTLSMatrix: which clients the listeners' configuration admits, and
// that each refusal says why.
func TestTLSMatrix(t *testing.T) {
	ca := newTestCA(t, "chemledger test CA")
	other := newTestCA(t, "other CA")
	// Same name as the real CA: a name match must not stand in for a signature.
	rogue := newTestCA(t, "chemledger test CA")
	pool := ca.Pool()
	now := time.Now()

	member := issue(t, ca, clientSpec(URI("MX-ANAM", "")))
	analyst := issue(t, ca, clientSpec(URI("MX-ANAM", RoleAnalyst)))
	gateway := issue(t, ca, clientSpec(GatewayURI))
	byCN := issue(t, ca, CertSpec{CommonName: "US-CBP/auditor", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	revoked := issue(t, ca, clientSpec(URI("MX-ANAM", RoleSubmitter)))
	expired := clientSpec(URI("MX-ANAM", ""))
	expired.NotBefore, expired.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	future := clientSpec(URI("MX-ANAM", ""))
	future.NotBefore, future.NotAfter = now.Add(24*time.Hour), now.Add(48*time.Hour)
	serverOnly := clientSpec(URI("MX-ANAM", ""))
	serverOnly.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	noEKU := clientSpec(URI("MX-ANAM", ""))
	noEKU.ExtKeyUsage = nil

	revokedSerial := serialOf(revoked)
	addr, results := startServer(t, ServerConfig(issue(t, ca, serverSpec()), pool, func(id Identity) bool {
		return id.Serial == revokedSerial
	}))
	client := func(c tls.Certificate) *tls.Config { return ClientConfig(c, pool) }
	// A Go client withholds a certificate whose issuer the server did not
	// name as acceptable; an attacker's client would not.
	insist := func(c tls.Certificate) *tls.Config {
		cfg := client(c)
		cfg.Certificates = nil
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		return cfg
	}
	tls12 := client(member)
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12

	for _, tc := range []struct {
		name    string
		cfg     *tls.Config
		wantErr string    // refused, with this in the server's error
		want    *Identity // accepted as this identity
	}{
		{name: "no certificate", cfg: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}, wantErr: "didn't provide a certificate"},
		{name: "unknown CA", cfg: insist(issue(t, other, clientSpec(URI("MX-ANAM", "")))), wantErr: "unknown authority"},
		{name: "another member under a rogue CA of the same name", cfg: client(issue(t, rogue, clientSpec(URI("US-CBP", RoleAdmin)))), wantErr: "unknown authority"},
		{name: "expired", cfg: client(issue(t, ca, expired)), wantErr: "is after"},
		{name: "not yet valid", cfg: client(issue(t, ca, future)), wantErr: "is before"},
		{name: "revoked", cfg: client(revoked), wantErr: "revoked"},
		{name: "server auth only", cfg: client(issue(t, ca, serverOnly)), wantErr: "incompatible key usage"},
		{name: "no extended key usage", cfg: client(issue(t, ca, noEKU)), wantErr: "clientAuth missing"},
		{name: "no identity", cfg: client(issue(t, ca, CertSpec{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})), wantErr: "no URI SAN and no subject common name"},
		{name: "foreign trust domain", cfg: client(issue(t, ca, clientSpec("spiffe://example.org/member/MX-ANAM"))), wantErr: "trust domain"},
		{name: "TLS 1.2", cfg: tls12, wantErr: "unsupported versions"},
		{name: "member", cfg: client(member), want: &Identity{Member: "MX-ANAM", Serial: serialOf(member)}},
		{name: "member in a role", cfg: client(analyst), want: &Identity{Member: "MX-ANAM", Role: RoleAnalyst, Serial: serialOf(analyst)}},
		{name: "gateway", cfg: client(gateway), want: &Identity{Gateway: true, Serial: serialOf(gateway)}},
		{name: "common name without URI SAN", cfg: client(byCN), want: &Identity{Member: "US-CBP", Role: RoleAuditor, Serial: serialOf(byCN)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientErr := dial(t, addr, tc.cfg)
			got := result(t, results)
			if tc.want == nil {
				if got.err == nil || !strings.Contains(got.err.Error(), tc.wantErr) {
					t.Fatalf("server handshake error = %v, want one containing %q", got.err, tc.wantErr)
				}
				t.Logf("refused: %v", got.err)
				if clientErr == nil {
					t.Errorf("client was refused (%v) but read the server's byte", got.err)
				}
				return
			}
			if got.err != nil || clientErr != nil {
				t.Fatalf("refused: server %v, client %v; want %v accepted", got.err, clientErr, *tc.want)
			}
			if diff := cmp.Diff(*tc.want, got.id); diff != "" {
				t.Errorf("PeerIdentity (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("plaintext", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(c)
		if got := result(t, results); got.err == nil || !strings.Contains(got.err.Error(), "does not look like a TLS handshake") {
			t.Errorf("server handshake error = %v, want a refusal of a non-TLS record", got.err)
		}
		if bytes.HasPrefix(answer, []byte("HTTP/")) {
			t.Errorf("plaintext request got an HTTP answer: %q", answer)
		}
	})
}

// TestRevocationTakesEffect: a revocation refuses the next connection of the
// same certificate, even one resuming an earlier session.
func TestRevocationTakesEffect(t *testing.T) {
	ca := newTestCA(t, "chemledger test CA")
	var mu sync.Mutex
	revoked := map[string]bool{}
	addr, results := startServer(t, ServerConfig(issue(t, ca, serverSpec()), ca.Pool(), func(id Identity) bool {
		mu.Lock()
		defer mu.Unlock()
		return revoked[id.Serial]
	}))
	cert := issue(t, ca, clientSpec(URI("MX-ANAM", RoleAnalyst)))
	cfg := ClientConfig(cert, ca.Pool())
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)

	for _, step := range []struct {
		name       string
		revoke     bool
		wantResume bool
		wantErr    error
	}{
		{name: "first connection"},
		{name: "resumed before revocation", wantResume: true},
		{name: "after revocation", revoke: true, wantErr: ErrRevoked},
	} {
		if step.revoke {
			mu.Lock()
			revoked[serialOf(cert)] = true
			mu.Unlock()
		}
		clientErr := dial(t, addr, cfg)
		got := result(t, results)
		if !errors.Is(got.err, step.wantErr) {
			t.Fatalf("%s: server error %v, want %v", step.name, got.err, step.wantErr)
		}
		if step.wantErr == nil && (clientErr != nil || got.didResume != step.wantResume) {
			t.Fatalf("%s: client error %v, resumed %v; want accepted, resumed %v", step.name, clientErr, got.didResume, step.wantResume)
		}
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return u
}

func TestIdentityOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		uris    []string
		cn      string
		want    Identity // Serial is always "abc123"
		wantErr string
	}{
		{name: "member", uris: []string{"spiffe://chemledger/member/MX-ANAM"}, want: Identity{Member: "MX-ANAM"}},
		{name: "submitter", uris: []string{URI("US-CBP", RoleSubmitter)}, want: Identity{Member: "US-CBP", Role: RoleSubmitter}},
		{name: "analyst", uris: []string{"spiffe://chemledger/member/MX-ANAM/analyst"}, want: Identity{Member: "MX-ANAM", Role: RoleAnalyst}},
		{name: "auditor", uris: []string{URI("UN-INCB", RoleAuditor)}, want: Identity{Member: "UN-INCB", Role: RoleAuditor}},
		{name: "admin", uris: []string{URI("NL-DOUANE", RoleAdmin)}, want: Identity{Member: "NL-DOUANE", Role: RoleAdmin}},
		{name: "gateway", uris: []string{"spiffe://chemledger/gateway"}, want: Identity{Gateway: true}},
		{name: "URI wins over common name", uris: []string{URI("MX-ANAM", "")}, cn: "US-CBP/admin", want: Identity{Member: "MX-ANAM"}},
		{name: "foreign URI beside ours is ignored", uris: []string{"https://anam.gob.mx/", URI("MX-ANAM", RoleAuditor)}, want: Identity{Member: "MX-ANAM", Role: RoleAuditor}},
		{name: "common name member", cn: "MX-ANAM", want: Identity{Member: "MX-ANAM"}},
		{name: "common name member and role", cn: "MX-ANAM/analyst", want: Identity{Member: "MX-ANAM", Role: RoleAnalyst}},

		{name: "wrong scheme", uris: []string{"https://chemledger/member/MX-ANAM"}, wantErr: `scheme "https", want spiffe`},
		{name: "wrong trust domain", uris: []string{"spiffe://example.org/member/MX-ANAM"}, wantErr: `trust domain "example.org"`},
		{name: "wrong trust domain does not fall back to common name", uris: []string{"spiffe://chemled.ger/member/MX-ANAM"}, cn: "MX-ANAM", wantErr: "trust domain"},
		{name: "lower-case member", uris: []string{"spiffe://chemledger/member/mx-anam"}, wantErr: `member "mx-anam" does not match`},
		{name: "member without country", uris: []string{"spiffe://chemledger/member/ANAM"}, wantErr: `member "ANAM" does not match`},
		{name: "member too long", uris: []string{URI("MX-"+strings.Repeat("A", 32), "")}, wantErr: "does not match"},
		{name: "unknown role", uris: []string{"spiffe://chemledger/member/MX-ANAM/superuser"}, wantErr: `unknown role "superuser"`},
		{name: "role in wrong case", uris: []string{"spiffe://chemledger/member/MX-ANAM/Analyst"}, wantErr: `unknown role "Analyst"`},
		{name: "two chemledger URIs", uris: []string{URI("MX-ANAM", ""), URI("US-CBP", "")}, wantErr: "2 spiffe://chemledger URI SANs"},
		{name: "same chemledger URI twice", uris: []string{URI("MX-ANAM", ""), URI("MX-ANAM", "")}, wantErr: "want exactly one"},
		{name: "extra path segment", uris: []string{"spiffe://chemledger/member/MX-ANAM/analyst/extra"}, wantErr: "4 path segments"},
		{name: "trailing slash", uris: []string{"spiffe://chemledger/member/MX-ANAM/"}, wantErr: "empty role"},
		{name: "member missing", uris: []string{"spiffe://chemledger/member"}, wantErr: "1 path segments"},
		{name: "gateway with path", uris: []string{"spiffe://chemledger/gateway/MX-ANAM"}, wantErr: "want /member/<ID>"},
		{name: "unknown kind", uris: []string{"spiffe://chemledger/admin/MX-ANAM"}, wantErr: `path "/admin/MX-ANAM"`},
		{name: "no path", uris: []string{"spiffe://chemledger"}, wantErr: `path ""`},
		{name: "port", uris: []string{"spiffe://chemledger:443/member/MX-ANAM"}, wantErr: "port not allowed"},
		{name: "user info", uris: []string{"spiffe://root@chemledger/member/MX-ANAM"}, wantErr: "user info not allowed"},
		{name: "query", uris: []string{"spiffe://chemledger/member/MX-ANAM?role=admin"}, wantErr: "query not allowed"},
		{name: "fragment", uris: []string{"spiffe://chemledger/member/MX-ANAM#admin"}, wantErr: "fragment not allowed"},
		{name: "percent-encoded", uris: []string{"spiffe://chemledger/member/MX%2DANAM"}, wantErr: "not in canonical form"},
		{name: "nothing", wantErr: "no URI SAN and no subject common name"},
		{name: "common name lower-case", cn: "mx-anam", wantErr: `subject common name "mx-anam"`},
		{name: "common name unknown role", cn: "MX-ANAM/root", wantErr: `unknown role "root"`},
		{name: "common name extra segment", cn: "MX-ANAM/analyst/x", wantErr: "extra segments"},
		{name: "common name empty role", cn: "MX-ANAM/", wantErr: "empty role"},
		{name: "gateway by common name", cn: "gateway", wantErr: "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := &x509.Certificate{SerialNumber: big.NewInt(0xabc123), Subject: pkix.Name{CommonName: tc.cn}}
			for _, s := range tc.uris {
				cert.URIs = append(cert.URIs, mustURL(t, s))
			}
			got, err := IdentityOf(cert)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrNoIdentity) {
					t.Fatalf("IdentityOf(uris %q, cn %q) = %v, %v; want an ErrNoIdentity containing %q", tc.uris, tc.cn, got, err, tc.wantErr)
				}
				return
			}
			tc.want.Serial = "abc123"
			if err != nil || got != tc.want {
				t.Fatalf("IdentityOf(uris %q, cn %q) = %+v, %v; want %+v", tc.uris, tc.cn, got, err, tc.want)
			}
		})
	}
}

func TestIdentityString(t *testing.T) {
	for _, tc := range []struct {
		id   Identity
		want string
	}{
		{Identity{Member: "MX-ANAM", Role: RoleAnalyst}, "MX-ANAM/analyst"},
		{Identity{Member: "MX-ANAM"}, "MX-ANAM"},
		{Identity{Gateway: true}, "gateway"},
	} {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.id, got, tc.want)
		}
	}
}

// FuzzIdentityOf: whatever a URI SAN or common name says, an identity that
// parses is spelled back exactly by URI or String, so two spellings can
// never name one principal.
func FuzzIdentityOf(f *testing.F) {
	for _, s := range []string{URI("MX-ANAM", ""), URI("MX-ANAM", RoleAnalyst), GatewayURI, "spiffe://chemledger/member/MX%2DANAM", "spiffe://chemledger/member/MX-ANAM/", "MX-ANAM/analyst", "mx-anam", ""} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, asURI bool) {
		cert := &x509.Certificate{SerialNumber: big.NewInt(1)}
		if asURI {
			u, err := url.Parse(s)
			if err != nil {
				return
			}
			cert.URIs = []*url.URL{u}
		} else {
			cert.Subject.CommonName = s
		}
		id, err := IdentityOf(cert)
		if err != nil {
			return
		}
		var spelled string
		switch {
		case asURI && id.Gateway:
			spelled = GatewayURI
		case asURI:
			spelled = URI(id.Member, id.Role)
		default:
			spelled = id.String()
		}
		if asURI {
			// A certificate carries its SAN as url.Parse left it, which
			// lower-cases the scheme (schemes are case-insensitive, RFC
			// 3986 §3.1): FuzzIdentityOf found "spifFe://chemledger/gateway",
			// which names the gateway exactly as the canonical spelling does.
			s = cert.URIs[0].String()
		}
		if spelled != s {
			t.Fatalf("%q parsed as %+v, which is spelled %q", s, id, spelled)
		}
	})
}

// devFiles lists every file EnsureDev makes for members.
func devFiles(l Layout, members ...string) []string {
	files := []string{l.CA(), l.CAKey(), l.ServerCert(), l.ServerKey(), l.GatewayCert(), l.GatewayKey()}
	for _, m := range members {
		for _, r := range Roles {
			files = append(files, l.ClientCert(m, r), l.ClientKey(m, r))
		}
	}
	return files
}

// snapshot is every file under dir with its mode and bytes.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = info.Mode().String() + " " + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestLayout(t *testing.T) {
	l := Layout{Dir: "/d"}
	for _, tc := range []struct{ got, want string }{
		{l.CA(), "/d/ca.pem"},
		{l.CAKey(), "/d/ca.key"},
		{l.ServerCert(), "/d/server.pem"},
		{l.ServerKey(), "/d/server.key"},
		{l.GatewayCert(), "/d/gateway.pem"},
		{l.GatewayKey(), "/d/gateway.key"},
		{l.ClientCert("MX-ANAM", RoleAnalyst), "/d/clients/MX-ANAM/analyst.pem"},
		{l.ClientKey("MX-ANAM", RoleAnalyst), "/d/clients/MX-ANAM/analyst.key"},
		{l.ClientCert("MX-ANAM", ""), "/d/clients/MX-ANAM/member.pem"},
		{l.ClientKey("MX-ANAM", ""), "/d/clients/MX-ANAM/member.key"},
	} {
		if tc.got != filepath.FromSlash(tc.want) {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestEnsureDev(t *testing.T) {
	members := []string{"MX-ANAM", "US-CBP"}
	l := Layout{Dir: filepath.Join(t.TempDir(), "tls")}
	if err := EnsureDev(l, members); err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, l.Dir)
	want := devFiles(l, members...)
	if got := slices.Sorted(maps.Keys(first)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	t.Run("modes", func(t *testing.T) {
		for _, p := range append(want, l.Dir, filepath.Join(l.Dir, "clients"), filepath.Join(l.Dir, "clients", "MX-ANAM")) {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			var wantMode fs.FileMode
			switch {
			case info.IsDir():
				wantMode = 0o700
			case strings.HasSuffix(p, ".key"):
				wantMode = 0o600
			default:
				wantMode = 0o644
			}
			if got := info.Mode().Perm(); got != wantMode {
				t.Errorf("%s: mode %v, want %v", p, got, wantMode)
			}
		}
	})

	t.Run("certificates", func(t *testing.T) {
		ca, err := LoadCA(l.CA(), l.CAKey())
		if err != nil {
			t.Fatal(err)
		}
		if years := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
			t.Errorf("CA valid for %.2f years, want 10", years)
		}
		srv, err := tls.LoadX509KeyPair(l.ServerCert(), l.ServerKey())
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
			if err := srv.Leaf.VerifyHostname(host); err != nil {
				t.Errorf("server certificate: %v", err)
			}
		}
		if _, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("server certificate: %v", err)
		}
		clients := map[string]Identity{l.GatewayCert(): {Gateway: true}}
		for _, m := range members {
			for _, r := range Roles {
				clients[l.ClientCert(m, r)] = Identity{Member: m, Role: r}
			}
		}
		for p, wantID := range clients {
			c, err := readCert(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			id, err := IdentityOf(c)
			wantID.Serial = c.SerialNumber.Text(16)
			if err != nil || id != wantID {
				t.Errorf("%s names %+v, %v; want %+v", p, id, err, wantID)
			}
			if days := c.NotAfter.Sub(c.NotBefore).Hours() / 24; days < 364 || days > 367 {
				t.Errorf("%s valid for %.1f days, want a year", p, days)
			}
		}
	})

	t.Run("idempotent", func(t *testing.T) {
		if err := EnsureDev(l, members); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, snapshot(t, l.Dir)); diff != "" {
			t.Errorf("second EnsureDev changed files (-first +second):\n%s", diff)
		}
	})

	t.Run("new member", func(t *testing.T) {
		if err := EnsureDev(l, append(members, "IN-NCB")); err != nil {
			t.Fatal(err)
		}
		now := snapshot(t, l.Dir)
		for p, v := range first {
			if now[p] != v {
				t.Errorf("adding a member changed %s", p)
			}
		}
		for _, p := range devFiles(l, "IN-NCB") {
			if _, ok := now[p]; !ok {
				t.Errorf("adding a member did not create %s", p)
			}
		}
	})

	t.Run("handshake", func(t *testing.T) {
		srv, err := LoadServer(l.CA(), l.ServerCert(), l.ServerKey(), nil)
		if err != nil {
			t.Fatal(err)
		}
		addr, results := startServer(t, srv)
		for _, tc := range []struct {
			name      string
			cert, key string
			want      Identity
		}{
			{"analyst", l.ClientCert("US-CBP", RoleAnalyst), l.ClientKey("US-CBP", RoleAnalyst), Identity{Member: "US-CBP", Role: RoleAnalyst}},
			{"gateway", l.GatewayCert(), l.GatewayKey(), Identity{Gateway: true}},
		} {
			cli, err := LoadClient(l.CA(), tc.cert, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			clientErr := dial(t, addr, cli)
			got := result(t, results)
			got.id.Serial = ""
			if clientErr != nil || got.err != nil || got.id != tc.want {
				t.Errorf("%s: client %v, server %+v; want accepted as %+v", tc.name, clientErr, got, tc.want)
			}
		}
	})
}

// TestEnsureDevRepairs: what an interrupted or damaged PKI directory leads
// to. Each case starts from a complete PKI for one member.
func TestEnsureDevRepairs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t testing.TB, l Layout)
		wantErr string // "" = repaired
	}{
		{
			name:   "leaf key without certificate gets one",
			damage: func(t testing.TB, l Layout) { remove(t, l.ServerCert()) },
		},
		{
			name:   "CA key without certificate gets one",
			damage: func(t testing.TB, l Layout) { remove(t, l.CA()) },
		},
		{
			name: "leftover temporary file",
			damage: func(t testing.TB, l Layout) {
				remove(t, l.GatewayCert())
				remove(t, l.GatewayKey())
				if err := os.WriteFile(filepath.Join(l.Dir, ".gateway.key.tmp-1"), []byte("half"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:    "certificate without key",
			damage:  func(t testing.TB, l Layout) { remove(t, l.ClientKey("MX-ANAM", RoleAdmin)) },
			wantErr: "exists without its key",
		},
		{
			name: "CA gone",
			damage: func(t testing.TB, l Layout) {
				remove(t, l.CA())
				remove(t, l.CAKey())
			},
			wantErr: "to start a new PKI",
		},
		{
			name: "CA key gone and something to issue",
			damage: func(t testing.TB, l Layout) {
				remove(t, l.CAKey())
				remove(t, l.GatewayCert())
				remove(t, l.GatewayKey())
			},
			wantErr: "the CA key is missing",
		},
		{
			name: "certificate from another CA",
			damage: func(t testing.TB, l Layout) {
				c := issue(t, newTestCA(t, "other CA"), clientSpec(GatewayURI))
				remove(t, l.GatewayCert())
				remove(t, l.GatewayKey())
				if err := WritePEM(l.GatewayCert(), l.GatewayKey(), c); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "was not issued by",
		},
		{
			name: "expired certificate",
			damage: func(t testing.TB, l Layout) {
				ca, err := LoadCA(l.CA(), l.CAKey())
				if err != nil {
					t.Fatal(err)
				}
				spec := clientSpec(GatewayURI)
				spec.NotBefore, spec.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
				if err := WritePEM(l.GatewayCert(), l.GatewayKey(), issue(t, ca, spec)); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "expired",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Layout{Dir: filepath.Join(t.TempDir(), "tls")}
			if err := EnsureDev(l, []string{"MX-ANAM"}); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, l)
			before := snapshot(t, l.Dir)
			err := EnsureDev(l, []string{"MX-ANAM"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("EnsureDev = %v, want an error containing %q", err, tc.wantErr)
				}
				if diff := cmp.Diff(before, snapshot(t, l.Dir)); diff != "" {
					t.Errorf("a refused EnsureDev changed files (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			after := snapshot(t, l.Dir)
			for p, v := range before {
				if after[p] != v {
					t.Errorf("repair changed %s", p)
				}
			}
			// Everything present again belongs together.
			ca, err := LoadCA(l.CA(), l.CAKey())
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range devFiles(l, "MX-ANAM") {
				if !strings.HasSuffix(p, ".pem") || p == l.CA() {
					continue
				}
				c, err := tls.LoadX509KeyPair(p, strings.TrimSuffix(p, ".pem")+".key")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
		})
	}
}

func remove(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureDevRejectsBadMember(t *testing.T) {
	for _, m := range []string{"mx-anam", "../etc", "", "MX-ANAM/analyst"} {
		l := Layout{Dir: filepath.Join(t.TempDir(), "tls")}
		if err := EnsureDev(l, []string{m}); err == nil {
			t.Errorf("EnsureDev(%q) succeeded", m)
		}
		if _, err := os.Stat(l.Dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("EnsureDev(%q) created %s (%v)", m, l.Dir, err)
		}
	}
}

func TestWritePEMAndLoadCA(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "chemledger test CA")
	caPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	if err := WritePEM(caPath, keyPath, tls.Certificate{Certificate: [][]byte{ca.Cert.Raw}, PrivateKey: ca.Key}); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(caPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Error("LoadCA read another certificate")
	}
	if info, err := os.Stat(keyPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", info, err)
	}
	leaf := issue(t, loaded, clientSpec(URI("MX-ANAM", "")))
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate issued by the loaded CA: %v", err)
	}

	other := newTestCA(t, "other CA")
	otherKey := filepath.Join(dir, "other.key")
	if err := WritePEM(filepath.Join(dir, "other.pem"), otherKey, tls.Certificate{Certificate: [][]byte{other.Cert.Raw}, PrivateKey: other.Key}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(caPath, otherKey); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("LoadCA with another CA's key = %v, want a mismatch error", err)
	}
}

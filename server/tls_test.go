package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// ---- helpers of the mTLS tests ----

// mtlsTimeout bounds one call of these tests: a refused handshake must fail
// the call, not hang it.
const mtlsTimeout = 15 * time.Second

// withCert is base presenting cert instead of its own certificate (none
// when cert is nil).
func withCert(base *tls.Config, cert *tls.Certificate) *tls.Config {
	cfg := base.Clone()
	cfg.Certificates = nil
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// devCA is the instance's development CA, able to issue.
func devCA(tb testing.TB, in *servertest.Instance) *pki.CA {
	tb.Helper()
	ca, err := pki.LoadCA(in.PKI.CA(), in.PKI.CAKey())
	if err != nil {
		tb.Fatalf("load dev CA: %v", err)
	}
	return ca
}

// issueClient issues a client certificate naming member in role.
func issueClient(tb testing.TB, ca *pki.CA, member, role string, edit func(*pki.CertSpec)) tls.Certificate {
	tb.Helper()
	spec := pki.CertSpec{
		URIs:        []string{pki.URI(member, role)},
		CommonName:  member + "/" + role,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if edit != nil {
		edit(&spec)
	}
	c, err := ca.Issue(spec)
	if err != nil {
		tb.Fatalf("issue %s/%s: %v", member, role, err)
	}
	return c
}

func serialOf(c tls.Certificate) string { return c.Leaf.SerialNumber.Text(16) }

// committed is the log's size as the ledger has committed it.
func committed(in *servertest.Instance) uint64 {
	cp, _ := in.Ledger.Checkpoint()
	return cp.Size
}

// mtlsConn is one client connection to one of the two listeners.
type mtlsConn interface {
	// checkpoint reads the latest checkpoint.
	checkpoint(ctx context.Context) error
	// createEntry submits an envelope.
	createEntry(ctx context.Context, id string, env []byte) error
	close()
}

// mtlsListener opens connections to one listener; cfg nil is plaintext.
type mtlsListener struct {
	name string
	addr func(in *servertest.Instance) string
	open func(tb testing.TB, in *servertest.Instance, cfg *tls.Config) mtlsConn
}

var mtlsListeners = []mtlsListener{
	{"grpc", func(in *servertest.Instance) string { return in.GRPCAddr },
		func(tb testing.TB, in *servertest.Instance, cfg *tls.Config) mtlsConn { return openGRPC(tb, in, cfg) }},
	{"http", func(in *servertest.Instance) string { return in.HTTPAddr },
		func(_ testing.TB, in *servertest.Instance, cfg *tls.Config) mtlsConn { return openHTTPS(in, cfg) }},
}

type grpcConn struct{ *grpc.ClientConn }

// openGRPC dials the gRPC listener. Nothing is sent until the first call.
func openGRPC(tb testing.TB, in *servertest.Instance, cfg *tls.Config) grpcConn {
	tb.Helper()
	return grpcConn{dialTLS(tb, in, cfg)}
}

func (c grpcConn) ledger() chemledgerv1.LedgerServiceClient {
	return chemledgerv1.NewLedgerServiceClient(c.ClientConn)
}

func (c grpcConn) checkpoint(ctx context.Context) error {
	_, err := c.ledger().GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
	return err
}

func (c grpcConn) createEntry(ctx context.Context, id string, env []byte) error {
	_, err := c.ledger().CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: id, Envelope: env})
	return err
}

func (c grpcConn) close() { c.Close() }

// httpsConn is an HTTP client of the HTTP listener, keeping its connection
// alive between requests.
type httpsConn struct {
	client *http.Client
	base   string
}

func openHTTPS(in *servertest.Instance, cfg *tls.Config) httpsConn {
	scheme := "https://"
	if cfg == nil {
		scheme = "http://"
	}
	return httpsConn{client: httpsClient(cfg), base: scheme + in.HTTPAddr}
}

// httpError is an HTTP answer other than 200, carrying the gRPC status of
// its google.rpc.Status body, so status.Code and detailsOf read it as they
// read a gRPC error.
type httpError struct {
	code int
	body []byte
	st   *status.Status
}

func (e *httpError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.code, bytes.TrimSpace(e.body))
}

func (e *httpError) GRPCStatus() *status.Status { return e.st }

// do sends one request; an answer other than 200 is an *httpError, a
// failure to get any answer is the transport's error.
func (c httpsConn) do(ctx context.Context, method, path string, body []byte, header http.Header) ([]byte, error) {
	code, _, b, err := clientDo(ctx, c.client, method, c.base+path, bytes.NewReader(body), jsonHeader(body != nil, header))
	if err != nil || code == http.StatusOK {
		return b, err
	}
	var sp spb.Status
	st := status.New(codes.Unknown, string(b))
	if protojson.Unmarshal(b, &sp) == nil {
		st = status.FromProto(&sp)
	}
	return b, &httpError{code: code, body: b, st: st}
}

func (c httpsConn) checkpoint(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/v1/checkpoint", nil, nil)
	return err
}

func (c httpsConn) createEntry(ctx context.Context, id string, env []byte) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/entries", entryBody(id, env), nil)
	return err
}

func (c httpsConn) close() { c.client.CloseIdleConnections() }

// checkHTTPStatus checks that an HTTP refusal's status is the one
// grpc-gateway maps its gRPC code to, so "403 over HTTP" is asserted too.
func checkHTTPStatus(tb testing.TB, err error) {
	tb.Helper()
	var he *httpError
	if errors.As(err, &he) {
		if want := runtime.HTTPStatusFromCode(he.st.Code()); he.code != want {
			tb.Errorf("HTTP status %d for %v, want %d", he.code, he.st.Code(), want)
		}
	}
}

// registryJSON is a registry entry with its id and effective time, in the
// JSON a member signs.
func registryJSON(tb testing.TB, id string, e *chemledgerv1.RegistryEntry) []byte {
	tb.Helper()
	e = proto.Clone(e).(*chemledgerv1.RegistryEntry)
	e.EntryId, e.EffectiveTime = id, timestamppb.Now()
	b, err := protojson.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func memberKeyChange(k *chemledgerv1.MemberKey) *chemledgerv1.RegistryEntry {
	return &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_MemberKey{MemberKey: k}}
}

// appendAsAdmin appends a member registry entry signed with US-CBP's key
// over a connection with US-CBP's admin certificate.
func appendAsAdmin(tb testing.TB, in *servertest.Instance, id string, e *chemledgerv1.RegistryEntry) *chemledgerv1.Receipt {
	tb.Helper()
	c := openGRPC(tb, in, clientTLS(tb, in, "US-CBP", pki.RoleAdmin))
	defer c.close()
	ctx, cancel := context.WithTimeout(tb.Context(), mtlsTimeout)
	defer cancel()
	r, err := c.ledger().CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{
		SubmissionId: "US-CBP:" + id,
		Envelope:     signAs(tb, in, "US-CBP", envelope.PayloadTypeRegistryJSON, registryJSON(tb, id, e)),
	})
	if err != nil {
		tb.Fatalf("admin appends %s: %v", id, err)
	}
	return r
}

// revokeCertificate appends, as US-CBP's admin, the revocation of a
// certificate of member.
func revokeCertificate(tb testing.TB, in *servertest.Instance, member string, cert tls.Certificate) {
	tb.Helper()
	serial := serialOf(cert)
	appendAsAdmin(tb, in, "revoke-cert-"+serial, &chemledgerv1.RegistryEntry{
		Change: &chemledgerv1.RegistryEntry_CertificateRevocation{CertificateRevocation: &chemledgerv1.CertificateRevocation{
			Member: member, Serial: serial, Reason: "key compromise (test)",
		}},
	})
}

// reasonOf is the ErrorInfo reason of a gRPC or HTTP refusal.
func reasonOf(err error) string { return detailsOf(status.Convert(err)).reason }

// ---- 1. the TLS matrix, on each listener ----

// Every way of presenting the wrong credentials is refused on both
// listeners, before anything is read or written; a member's certificate
// from the dev PKI is accepted.
func TestTLSMatrix(t *testing.T) {
	in := startSecured(t, "", servertest.Options{Audit: true}).in
	event := readExamples(t)[0].Event
	ca := devCA(t, in)
	valid := clientTLS(t, in, "MX-ANAM", pki.RoleSubmitter)
	now := time.Now()

	// An impostor CA under the very name of the dev CA: only its key
	// differs.
	impostor, err := pki.NewCA(ca.Cert.Subject.CommonName, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := pki.NewCA("unknown CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certified := func(c tls.Certificate) func(*testing.T, mtlsListener) *tls.Config {
		return func(*testing.T, mtlsListener) *tls.Config { return withCert(valid, &c) }
	}

	tests := []struct {
		name string
		// client is the client's TLS configuration (nil: plaintext); it
		// may prepare the server (the revocation).
		client func(*testing.T, mtlsListener) *tls.Config
		ok     bool
	}{
		{name: "member certificate from the dev PKI", ok: true,
			client: func(*testing.T, mtlsListener) *tls.Config { return valid }},
		{name: "no certificate",
			client: func(*testing.T, mtlsListener) *tls.Config { return withCert(valid, nil) }},
		{name: "certificate from an unknown CA",
			client: certified(issueClient(t, unknown, "MX-ANAM", pki.RoleSubmitter, nil))},
		{name: "expired",
			client: certified(issueClient(t, ca, "MX-ANAM", pki.RoleAnalyst, func(s *pki.CertSpec) {
				s.NotBefore, s.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
			}))},
		{name: "not yet valid",
			client: certified(issueClient(t, ca, "MX-ANAM", pki.RoleAnalyst, func(s *pki.CertSpec) {
				s.NotBefore, s.NotAfter = now.Add(24*time.Hour), now.Add(48*time.Hour)
			}))},
		{name: "revoked", client: func(t *testing.T, l mtlsListener) *tls.Config {
			cert := issueClient(t, ca, "MX-ANAM", pki.RoleSubmitter, nil)
			cfg := withCert(valid, &cert)
			// With a session cache, the connections refused below try to
			// resume a session made before the revocation.
			cfg.ServerName = "127.0.0.1"
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			old := l.open(t, in, cfg)
			defer old.close()
			ctx, cancel := context.WithTimeout(t.Context(), mtlsTimeout)
			defer cancel()
			if err := old.checkpoint(ctx); err != nil {
				t.Fatalf("before its revocation, certificate %s: %v", serialOf(cert), err)
			}
			again, err := tls.Dial("tcp", l.addr(in), cfg)
			if err != nil {
				t.Fatalf("second connection before the revocation: %v", err)
			}
			resumed := again.ConnectionState().DidResume
			again.Close()
			if !resumed {
				t.Fatal("no session to resume: the refusals below would not try resumption")
			}
			revokeCertificate(t, in, "MX-ANAM", cert)
			// A connection made before the revocation is refused from the
			// revoking entry on, too.
			err = old.checkpoint(ctx)
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("after the revocation, on the connection opened before: %v, want UNAUTHENTICATED", err)
			}
			checkHTTPStatus(t, err)
			return cfg
		}},
		{name: "wrong key usage (serverAuth only)",
			client: certified(issueClient(t, ca, "MX-ANAM", pki.RoleSubmitter, func(s *pki.CertSpec) {
				s.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			}))},
		{name: "no extended key usage",
			client: certified(issueClient(t, ca, "MX-ANAM", pki.RoleSubmitter, func(s *pki.CertSpec) { s.ExtKeyUsage = nil }))},
		{name: "another member's identity under the wrong CA",
			client: certified(issueClient(t, impostor, "US-CBP", pki.RoleAdmin, nil))},
		{name: "TLS 1.2", client: func(*testing.T, mtlsListener) *tls.Config {
			cfg := valid.Clone()
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return cfg
		}},
		{name: "plaintext", client: func(*testing.T, mtlsListener) *tls.Config { return nil }},
	}
	for _, l := range mtlsListeners {
		t.Run(l.name, func(t *testing.T) {
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					cfg := tc.client(t, l)
					before := committed(in)
					c := l.open(t, in, cfg)
					defer c.close()
					ctx, cancel := context.WithTimeout(t.Context(), mtlsTimeout)
					defer cancel()
					id := fmt.Sprintf("tls-%s-%d", l.name, i)
					env := signAs(t, in, "MX-ANAM", envelope.PayloadTypeEventJSON, renamedEvent(t, event, "PEN-TLS-"+id))
					readErr := c.checkpoint(ctx)
					writeErr := c.createEntry(ctx, id, env)
					after := committed(in)
					if tc.ok {
						if readErr != nil || writeErr != nil {
							t.Fatalf("checkpoint: %v; create entry: %v; want both accepted", readErr, writeErr)
						}
						if after != before+1 {
							t.Fatalf("log size %d after an accepted submission, want %d", after, before+1)
						}
						return
					}
					for _, call := range []struct {
						name string
						err  error
					}{{"checkpoint", readErr}, {"create entry", writeErr}} {
						t.Logf("%s: %v (code %v)", call.name, call.err, status.Code(call.err))
						if call.err == nil {
							t.Errorf("%s accepted, want refused", call.name)
							continue
						}
						// A refused handshake gives no answer at all. Over
						// plaintext, net/http itself answers 400 "client
						// sent an HTTP request to an HTTPS server".
						var he *httpError
						switch {
						case l.name == "grpc":
							if c := status.Code(call.err); c != codes.Unavailable && c != codes.Unauthenticated {
								t.Errorf("%s: code %v, want UNAVAILABLE or UNAUTHENTICATED", call.name, c)
							}
						case errors.As(call.err, &he) && !(cfg == nil && he.code == http.StatusBadRequest):
							t.Errorf("%s answered %v, want a transport error", call.name, he)
						}
					}
					if after != before {
						t.Errorf("log size went from %d to %d, want nothing written", before, after)
					}
				})
			}
		})
	}
}

// ---- 2. the gateway never lends its identity ----

// The gateway's own upstream credentials are an admin's here: a caller
// must still bring its own certificate, and an analyst over HTTP is an
// analyst, whatever headers it sends (etcd CVE-2018-16886).
func TestGatewayIdentity(t *testing.T) {
	dir := t.TempDir()
	if err := datadir.EnsureDev(datadir.Layout{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	p := datadir.Layout{Dir: dir}.TLS()
	privileged, err := pki.LoadClient(p.CA(), p.ClientCert("US-CBP", pki.RoleAdmin), p.ClientKey("US-CBP", pki.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	// ServerName is left empty: the server fills in its own.
	// Every refusal on its own record (no counting), so that the trail
	// below shows each attempt.
	in := startSecured(t, dir, servertest.Options{Audit: true, Server: func(c *server.Config) {
		c.GatewayTLS = privileged
		c.RefusalWindow = -1
	}}).in
	ctx, cancel := context.WithTimeout(t.Context(), mtlsTimeout)
	defer cancel()

	// The hop's credentials really are privileged: directly, they rebuild.
	admin := openGRPC(t, in, privileged)
	if _, err := chemledgerv1.NewAdminServiceClient(admin).RebuildDerivedState(ctx, &chemledgerv1.RebuildDerivedStateRequest{}); err != nil {
		t.Fatalf("the gateway's credentials over gRPC: rebuild: %v, want OK", err)
	}

	if _, err := openHTTPS(in, withCert(privileged, nil)).do(ctx, http.MethodGet, "/v1/flags", nil, nil); err == nil {
		t.Errorf("GET /v1/flags without a client certificate succeeded, want refused")
	} else {
		t.Logf("without a certificate: %v", err)
		var he *httpError
		if errors.As(err, &he) {
			t.Errorf("without a certificate: answered %v, want the handshake refused", he)
		}
	}

	analyst := openHTTPS(in, clientTLS(t, in, "MX-ANAM", pki.RoleAnalyst))
	defer analyst.close()
	submitter := openHTTPS(in, clientTLS(t, in, "MX-ANAM", pki.RoleSubmitter))
	defer submitter.close()
	// The dev gateway certificate, the CA's and valid, names no caller.
	gatewayCert, err := pki.LoadClient(p.CA(), p.GatewayCert(), p.GatewayKey())
	if err != nil {
		t.Fatal(err)
	}
	gateway := openHTTPS(in, gatewayCert)
	defer gateway.close()
	tests := []struct {
		name   string
		conn   httpsConn
		method string
		path   string
		header http.Header
		want   codes.Code
	}{
		{"analyst reads flags", analyst, http.MethodGet, "/v1/flags", nil, codes.OK},
		{"analyst rebuilds", analyst, http.MethodPost, "/v1/derived:rebuild", nil, codes.PermissionDenied},
		{"submitter reads flags", submitter, http.MethodGet, "/v1/flags", nil, codes.PermissionDenied},
		{"analyst claims admin in a metadata header", analyst, http.MethodPost, "/v1/derived:rebuild",
			http.Header{"Grpc-Metadata-X-Chemledger-Caller": {"US-CBP;admin;"}}, codes.PermissionDenied},
		{"analyst claims admin in a lower-case metadata header", analyst, http.MethodPost, "/v1/derived:rebuild",
			http.Header{"grpc-metadata-x-chemledger-caller": {"US-CBP;admin;"}}, codes.PermissionDenied},
		{"analyst claims admin in a bare header", analyst, http.MethodPost, "/v1/derived:rebuild",
			http.Header{"X-Chemledger-Caller": {"US-CBP;admin;"}}, codes.PermissionDenied},
		{"analyst with a caller header still reads as the analyst", analyst, http.MethodGet, "/v1/flags",
			http.Header{"Grpc-Metadata-X-Chemledger-Caller": {"US-CBP;admin;"}}, codes.OK},
		{"the gateway's certificate as a caller", gateway, http.MethodGet, "/v1/checkpoint", nil, codes.Unauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.method == http.MethodPost {
				body = []byte("{}")
			}
			_, err := tc.conn.do(ctx, tc.method, tc.path, body, tc.header)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("%s %s with %v: %v, want %v", tc.method, tc.path, tc.header, err, tc.want)
			}
			checkHTTPStatus(t, err)
			want := map[codes.Code]string{codes.PermissionDenied: server.ReasonDenied, codes.Unauthenticated: server.ReasonUnauthenticated}[tc.want]
			if r := reasonOf(err); r != want {
				t.Errorf("reason %q, want %q", r, want)
			}
		})
	}

	t.Run("caller metadata over gRPC", func(t *testing.T) {
		c := openGRPC(t, in, clientTLS(t, in, "MX-ANAM", pki.RoleAnalyst))
		md := metadata.AppendToOutgoingContext(ctx, "x-chemledger-caller", "US-CBP;admin;")
		_, err := chemledgerv1.NewAdminServiceClient(c).RebuildDerivedState(md, &chemledgerv1.RebuildDerivedStateRequest{})
		if status.Code(err) != codes.Unauthenticated || reasonOf(err) != server.ReasonUnauthenticated {
			t.Errorf("rebuild with x-chemledger-caller: %v, want UNAUTHENTICATED", err)
		}
		_, err = chemledgerv1.NewAnalystServiceClient(c).ListFlags(md, &chemledgerv1.ListFlagsRequest{})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("list flags with x-chemledger-caller: %v, want UNAUTHENTICATED", err)
		}
		if _, err := chemledgerv1.NewAnalystServiceClient(c).ListFlags(ctx, &chemledgerv1.ListFlagsRequest{}); err != nil {
			t.Errorf("list flags without it, same connection: %v, want OK", err)
		}
	})

	t.Run("the gateway's certificate over gRPC", func(t *testing.T) {
		err := openGRPC(t, in, gatewayCert).checkpoint(ctx)
		if status.Code(err) != codes.Unauthenticated || reasonOf(err) != server.ReasonUnauthenticated {
			t.Errorf("GetCheckpoint with the gateway's certificate: %v, want UNAUTHENTICATED", err)
		}
	})

	t.Run("audit trail", func(t *testing.T) {
		recs, _, err := in.Audit.List(0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		count := func(via, principal, method, outcome string) int {
			n := 0
			for _, r := range recs {
				if r.Via == via && r.Principal == principal && r.Method == method && r.Outcome == outcome {
					n++
				}
			}
			return n
		}
		const (
			listFlags = "/chemledger.v1.AnalystService/ListFlags"
			rebuild   = "/chemledger.v1.AdminService/RebuildDerivedState"
		)
		for _, w := range []struct {
			via, principal, method, outcome string
			n                               int
		}{
			{"http", "MX-ANAM/analyst", listFlags, "OK", 2},
			{"http", "MX-ANAM/analyst", rebuild, "PERMISSION_DENIED", 4},
			{"http", "MX-ANAM/submitter", listFlags, "PERMISSION_DENIED", 1},
			// Refused, and attributed to the certificate that tried.
			{"grpc", "MX-ANAM/analyst", rebuild, "UNAUTHENTICATED", 1},
			{"grpc", "MX-ANAM/analyst", listFlags, "UNAUTHENTICATED", 1},
			{"http", "gateway", "GET /v1/checkpoint", "UNAUTHENTICATED", 1},
			{"grpc", "gateway", "/chemledger.v1.LedgerService/GetCheckpoint", "UNAUTHENTICATED", 1},
		} {
			if got := count(w.via, w.principal, w.method, w.outcome); got != w.n {
				t.Errorf("%d audit records {via %s, principal %q, %s, %s}, want %d", got, w.via, w.principal, w.method, w.outcome, w.n)
			}
		}
		for _, r := range recs {
			if r.Via != "http" {
				continue
			}
			// The gateway's certificate presented from outside is
			// refused under its own name; no call is ever audited as
			// the hop's privileged identity, or allowed as the gateway.
			if strings.HasPrefix(r.Principal, "US-CBP") || r.Principal == "gateway" && r.Outcome != "UNAUTHENTICATED" {
				t.Errorf("HTTP call audited as the gateway's identity: %+v", r)
			}
		}
		if t.Failed() {
			logAudit(t, recs)
		}
	})
}

func logAudit(tb testing.TB, recs []audit.Record) {
	tb.Helper()
	for _, r := range recs {
		tb.Logf("audit %d: via=%s principal=%q %s %v %s", r.Seq, r.Via, r.Principal, r.Method, r.Resources, r.Outcome)
	}
}

// ---- 3. the signer must be the caller ----

// Over mTLS a member submits only envelopes signed with its own keys, and
// only with the submitter role.
func TestSignerMustBeCaller(t *testing.T) {
	in := startSecured(t, "", servertest.Options{Audit: true}).in
	event := readExamples(t)[0].Event
	tests := []struct {
		name         string
		member, role string // the caller's certificate
		signer       string // whose key signed the envelope
		event        string // rows naming the same event submit the same envelope
		want         codes.Code
	}{
		{"another member's key", "MX-ANAM", pki.RoleSubmitter, "US-CBP", "a", codes.PermissionDenied},
		{"the same envelope by its signer", "US-CBP", pki.RoleSubmitter, "US-CBP", "a", codes.OK},
		{"an analyst submitting an event", "MX-ANAM", pki.RoleAnalyst, "MX-ANAM", "b", codes.PermissionDenied},
		{"an admin submitting an event", "US-CBP", pki.RoleAdmin, "US-CBP", "c", codes.PermissionDenied},
		{"a submitter signing as itself", "MX-ANAM", pki.RoleSubmitter, "MX-ANAM", "b", codes.OK},
	}
	for _, l := range mtlsListeners {
		t.Run(l.name, func(t *testing.T) {
			envs := map[string][]byte{}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					key := tc.signer + "/" + tc.event
					if envs[key] == nil {
						envs[key] = signAs(t, in, tc.signer, envelope.PayloadTypeEventJSON, renamedEvent(t, event, "PEN-SIGNER-"+l.name+"-"+tc.event))
					}
					c := l.open(t, in, clientTLS(t, in, tc.member, tc.role))
					defer c.close()
					ctx, cancel := context.WithTimeout(t.Context(), mtlsTimeout)
					defer cancel()
					before := committed(in)
					err := c.createEntry(ctx, "signer-"+l.name+"-"+tc.event, envs[key])
					if got := status.Code(err); got != tc.want {
						t.Fatalf("%s/%s submits an envelope signed by %s: %v, want %v", tc.member, tc.role, tc.signer, err, tc.want)
					}
					checkHTTPStatus(t, err)
					want := before
					if tc.want == codes.OK {
						want++
					} else if r := reasonOf(err); r != server.ReasonDenied {
						t.Errorf("reason %q, want %q", r, server.ReasonDenied)
					}
					if got := committed(in); got != want {
						t.Errorf("log size %d after the submission, want %d", got, want)
					}
				})
			}
		})
	}
}

// ---- 4. key rotation and revocation are registry entries ----

// An admin rotates MX-ANAM's key by two registry entries: the new key is
// accepted once added; the old one is refused once revoked, while what it
// signed before still verifies; only an admin may do this; and all of it
// survives a restart, replayed from the log. A certificate revocation is
// replayed too.
func TestKeyRotationAndRevocation(t *testing.T) {
	dir := t.TempDir()
	s := startSecured(t, dir, servertest.Options{Audit: true})
	in := s.in
	event := readExamples(t)[0].Event
	old := in.Keys["MX-ANAM"]
	rotated, err := members.GenerateKey("MX-ANAM")
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	submit := func(t *testing.T, in *servertest.Instance, k members.PrivateKey) (*chemledgerv1.Receipt, error) {
		t.Helper()
		seq++
		c := openGRPC(t, in, clientTLS(t, in, "MX-ANAM", pki.RoleSubmitter))
		defer c.close()
		ctx, cancel := context.WithTimeout(t.Context(), mtlsTimeout)
		defer cancel()
		id := fmt.Sprintf("rot-%d", seq)
		return c.ledger().CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{
			SubmissionId: id, Envelope: signWith(t, k, envelope.PayloadTypeEventJSON, renamedEvent(t, event, "PEN-ROT-"+id)),
		})
	}
	mustAccept := func(t *testing.T, in *servertest.Instance, k members.PrivateKey, what string) *chemledgerv1.Receipt {
		t.Helper()
		r, err := submit(t, in, k)
		if err != nil {
			t.Fatalf("%s: %v, want accepted", what, err)
		}
		return r
	}
	mustRefuse := func(t *testing.T, in *servertest.Instance, k members.PrivateKey, what string, code codes.Code, reason string) {
		t.Helper()
		before := committed(in)
		_, err := submit(t, in, k)
		if st := status.Convert(err); st.Code() != code || reasonOf(err) != reason {
			t.Fatalf("%s: %v, want %v with reason %s", what, err, code, reason)
		}
		if after := committed(in); after != before {
			t.Fatalf("%s: log size went from %d to %d", what, before, after)
		}
	}
	revokedCert := issueClient(t, devCA(t, in), "MX-ANAM", pki.RoleSubmitter, nil)

	signedBefore := mustAccept(t, in, old, "MX-ANAM with its original key")
	mustRefuse(t, in, rotated, "MX-ANAM with a key not yet added", codes.InvalidArgument, server.ReasonBadInput)

	t.Run("only an admin adds a key", func(t *testing.T) {
		for _, l := range mtlsListeners {
			t.Run(l.name, func(t *testing.T) {
				c := l.open(t, in, clientTLS(t, in, "MX-ANAM", pki.RoleSubmitter))
				defer c.close()
				ctx, cancel := context.WithTimeout(t.Context(), mtlsTimeout)
				defer cancel()
				id := "self-key-" + l.name
				env := signWith(t, old, envelope.PayloadTypeRegistryJSON, registryJSON(t, id, memberKeyChange(&chemledgerv1.MemberKey{
					Member: "MX-ANAM", KeyId: rotated.KeyID, Ed25519: rotated.Public().Ed25519,
				})))
				before := committed(in)
				err := c.createEntry(ctx, "MX-ANAM:"+id, env)
				if status.Code(err) != codes.PermissionDenied || reasonOf(err) != server.ReasonDenied {
					t.Fatalf("MX-ANAM's submitter adds a key: %v, want PERMISSION_DENIED", err)
				}
				checkHTTPStatus(t, err)
				if after := committed(in); after != before {
					t.Fatalf("log size went from %d to %d", before, after)
				}
			})
		}
	})

	appendAsAdmin(t, in, "mx-anam-key-add", memberKeyChange(&chemledgerv1.MemberKey{
		Member: "MX-ANAM", KeyId: rotated.KeyID, Ed25519: rotated.Public().Ed25519,
	}))
	mustAccept(t, in, rotated, "MX-ANAM with its added key")
	mustAccept(t, in, old, "MX-ANAM with its original key, not yet revoked")

	appendAsAdmin(t, in, "mx-anam-key-revoke", memberKeyChange(&chemledgerv1.MemberKey{
		Member: "MX-ANAM", KeyId: old.KeyID, Revoked: true,
	}))
	mustRefuse(t, in, old, "MX-ANAM with its revoked key", codes.PermissionDenied, server.ReasonKeyRevoked)
	mustAccept(t, in, rotated, "MX-ANAM with its new key after the revocation")

	t.Run("revoked key over HTTP", func(t *testing.T) {
		c := openHTTPS(in, clientTLS(t, in, "MX-ANAM", pki.RoleSubmitter))
		defer c.close()
		err := c.createEntry(t.Context(), "rot-http", signWith(t, old, envelope.PayloadTypeEventJSON, renamedEvent(t, event, "PEN-ROT-HTTP")))
		if status.Code(err) != codes.PermissionDenied || reasonOf(err) != server.ReasonKeyRevoked {
			t.Fatalf("revoked key over HTTP: %v, want 403 %s", err, server.ReasonKeyRevoked)
		}
		checkHTTPStatus(t, err)
	})

	revokeCertificate(t, in, "MX-ANAM", revokedCert)

	// What the old key signed before its revocation is still served, and
	// still verifies against the old public key.
	checkSignedBefore := func(t *testing.T, in *servertest.Instance) {
		t.Helper()
		c := openGRPC(t, in, clientTLS(t, in, "MX-ANAM", pki.RoleSubmitter))
		defer c.close()
		e, err := c.ledger().GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: signedBefore.GetIndex()})
		if err != nil {
			t.Fatalf("GetEntry(%d), signed before the revocation: %v", signedBefore.GetIndex(), err)
		}
		env, err := envelope.Parse(e.GetLeaf())
		if err != nil {
			t.Fatalf("entry %d: %v", e.GetIndex(), err)
		}
		pub := old.Public()
		signer, err := envelope.Verify(env, func(id string) (envelope.Key, bool) {
			return envelope.Key{ID: pub.ID, MemberID: "MX-ANAM", Public: pub.Ed25519}, id == pub.ID
		})
		if err != nil || signer != "MX-ANAM" || e.GetMember() != "MX-ANAM" {
			t.Fatalf("entry %d against the old key: signer %q, member %q, %v; want MX-ANAM", e.GetIndex(), signer, e.GetMember(), err)
		}
		if k, _ := in.Members.Key(old.KeyID); !k.Revoked {
			t.Errorf("registry key %s: %+v, want revoked", old.KeyID, k)
		}
	}
	checkSignedBefore(t, in)

	s.stop()
	in = startSecured(t, dir, servertest.Options{Audit: true}).in
	t.Run("after a restart", func(t *testing.T) {
		mustRefuse(t, in, old, "MX-ANAM with its revoked key after a restart", codes.PermissionDenied, server.ReasonKeyRevoked)
		mustAccept(t, in, rotated, "MX-ANAM with its new key after a restart")
		checkSignedBefore(t, in)
		for _, l := range mtlsListeners {
			c := l.open(t, in, withCert(clientTLS(t, in, "MX-ANAM", pki.RoleSubmitter), &revokedCert))
			err := c.checkpoint(t.Context())
			c.close()
			if err == nil {
				t.Errorf("%s: certificate revoked before the restart accepted", l.name)
			}
		}
	})
}

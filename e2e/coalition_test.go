package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/pki"
)

// coalition is a log set up the way a real coalition sets one up, with the
// real binaries and nothing else: a CA from `chemledgerd ca init`, the
// service's certificates from `ca service`, founders from `chemledger member
// init` and `chemledgerd init --founder`, every certificate signed from a
// request by `ca sign`. No dev mode, no key ever made by the CA for a
// member.
type coalition struct {
	root, data, caDir, tlsDir string
	d                         *daemon
}

// run runs a binary from the module root and returns its output; it fails
// the test unless the exit code is want.
func run(tb testing.TB, want int, bin string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = moduleRoot
	cmd.Env = cleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	if code != want {
		tb.Fatalf("%s %s: exit %d, want %d; output:\n%s", filepath.Base(bin), strings.Join(args, " "), code, want, out.String())
	}
	return out.String()
}

// home is where member id keeps its keys and certificate.
func (c *coalition) home(id string) string { return filepath.Join(c.root, "members", id) }

// join makes a member's keys and request on "its machine" and has the CA
// operator sign its certificate request.
func (c *coalition) prepare(tb testing.TB, id, country, agency string) {
	tb.Helper()
	run(tb, 0, cliBin, "member", "init", "--id", id, "--country", country, "--agency", agency, "--out", c.home(id))
	run(tb, 0, daemonBin, "ca", "sign", "--ca-dir", c.caDir, "--csr", filepath.Join(c.home(id), "tls.csr"), "--out", filepath.Join(c.home(id), "tls.pem"))
}

// as runs the CLI as member id, with its own certificate and signing key
// where the verb signs, and returns the result.
func (c *coalition) as(tb testing.TB, id string, args ...string) cliResult {
	tb.Helper()
	h := c.home(id)
	all := append([]string{"--server", c.d.grpcAddr, "--ca", filepath.Join(c.tlsDir, "ca.pem"),
		"--cert", filepath.Join(h, "tls.pem"), "--key", filepath.Join(h, "tls.key"),
		"--log-key", filepath.Join(c.data, "log.pub"), "--data-dir", filepath.Join(c.root, "nowhere"), "--timeout", "30s"}, args...)
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin, all...)
	cmd.Dir = moduleRoot
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return r
}

func (c *coalition) start(tb testing.TB) {
	tb.Helper()
	c.d = startDaemon(tb, c.data, "--production",
		"--tls-ca", filepath.Join(c.tlsDir, "ca.pem"), "--tls-cert", filepath.Join(c.tlsDir, "server.pem"),
		"--tls-key", filepath.Join(c.tlsDir, "server.key"), "--gateway-cert", filepath.Join(c.tlsDir, "gateway.pem"),
		"--gateway-key", filepath.Join(c.tlsDir, "gateway.key"))
}

// https is an HTTP client presenting member id's certificate.
func (c *coalition) https(tb testing.TB, id string) *http.Client {
	tb.Helper()
	cfg, err := pki.LoadClient(filepath.Join(c.tlsDir, "ca.pem"), filepath.Join(c.home(id), "tls.pem"), filepath.Join(c.home(id), "tls.key"))
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// eventFile writes one shipment event reported from country, a variant of
// the first example, as a JSONL file, and returns its path.
func (c *coalition) eventFile(tb testing.TB, country, id string) string {
	tb.Helper()
	ev := readExamples(tb)[0].event
	ev.EventId, ev.ShipmentRef, ev.LocationCountry = id, id, country
	b, err := protojson.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(c.root, id+".jsonl")
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

var receiptIndex = regexp.MustCompile(`"index":\s*"?(\d+)`)

// submitAs has member id sign and submit one event; it returns the entry's
// index, or fails unless the submission was refused when wantRefused.
func (c *coalition) submitAs(tb testing.TB, id, country, eventID string, wantRefused bool) string {
	tb.Helper()
	r := c.as(tb, id, "submit", "--signing-key", filepath.Join(c.home(id), "signing-key.json"), c.eventFile(tb, country, eventID))
	if wantRefused {
		if r.code == 0 {
			tb.Fatalf("%s's submission of %s was accepted, want refused:\n%s", id, eventID, r.stdout)
		}
		return ""
	}
	m := receiptIndex.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		tb.Fatalf("%s submits %s: exit %d\n%s\n%s", id, eventID, r.code, r.stdout, r.stderr)
	}
	return m[1]
}

// TestCoalitionOnboarding starts a coalition from nothing with the real
// binaries, onboards three members only through the commands, and checks
// what members may and may not do, through a suspension and a restart.
func TestCoalitionOnboarding(t *testing.T) {
	root := t.TempDir()
	c := &coalition{root: root, data: filepath.Join(root, "data"), caDir: filepath.Join(root, "ca"), tlsDir: filepath.Join(root, "tls")}
	run(t, 0, daemonBin, "ca", "init", "--ca-dir", c.caDir, "--name", "Test coalition CA")
	run(t, 1, daemonBin, "ca", "init", "--ca-dir", c.caDir) // never replaced
	run(t, 0, daemonBin, "ca", "service", "--ca-dir", c.caDir, "--hosts", "localhost,127.0.0.1", "--out-dir", c.tlsDir)

	c.prepare(t, "US-CBP", "US", "U.S. Customs and Border Protection")
	c.prepare(t, "MX-ANAM", "MX", "Agencia Nacional de Aduanas de México")
	vkey := run(t, 0, daemonBin, "init", "--data-dir", c.data, "--origin", "chemledger.test/coalition",
		"--founder", filepath.Join(c.home("US-CBP"), "request.json"), "--founder", filepath.Join(c.home("MX-ANAM"), "request.json"))
	if !regexp.MustCompile(`(?m)^chemledger\.test/coalition\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$`).MatchString(vkey) {
		t.Fatalf("init printed %q, want the note verifier key of chemledger.test/coalition", vkey)
	}
	c.start(t)

	newcomers := []struct{ id, country, agency string }{
		{"CA-CBSA", "CA", "Canada Border Services Agency"},
		{"CO-DIAN", "CO", "Dirección de Impuestos y Aduanas Nacionales"},
		{"GT-SAT", "GT", "Superintendencia de Administración Tributaria"},
	}
	for _, m := range newcomers {
		c.prepare(t, m.id, m.country, m.agency)
	}
	// Before it is admitted, a newcomer's certificate (signed by the CA)
	// gets it nowhere, and it cannot admit itself.
	if r := c.as(t, "CA-CBSA", "member", "add", "--request", filepath.Join(c.home("CA-CBSA"), "request.json"), "--roles", "admin",
		"--signing-key", filepath.Join(c.home("CA-CBSA"), "signing-key.json")); r.code == 0 || !strings.Contains(r.stderr, "not a member") {
		t.Fatalf("CA-CBSA admits itself: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, m := range newcomers {
		r := c.as(t, "US-CBP", "member", "add", "--request", filepath.Join(c.home(m.id), "request.json"), "--roles", "submitter,analyst",
			"--signing-key", filepath.Join(c.home("US-CBP"), "signing-key.json"))
		if r.code != 0 {
			t.Fatalf("US-CBP admits %s: exit %d\n%s%s", m.id, r.code, r.stdout, r.stderr)
		}
	}

	// Each newcomer submits and reads with its own certificate, over gRPC
	// (the CLI) and HTTP.
	indexes := map[string]string{}
	for _, m := range newcomers {
		idx := c.submitAs(t, m.id, m.country, "EV-"+m.id+"-1", false)
		indexes[m.id] = idx
		if r := c.as(t, m.id, "get", idx); r.code != 0 || !strings.Contains(r.stdout, "EV-"+m.id+"-1") {
			t.Fatalf("%s reads entry %s over gRPC: exit %d\n%s%s", m.id, idx, r.code, r.stdout, r.stderr)
		}
		resp, err := c.https(t, m.id).Get("https://" + c.d.httpAddr + "/v1/entries/" + idx)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("EV-"+m.id+"-1")) {
			t.Fatalf("%s reads entry %s over HTTP: %d %s", m.id, idx, resp.StatusCode, body)
		}
	}

	// What no member may do.
	r := c.as(t, "CA-CBSA", "member", "add", "--request", filepath.Join(c.home("GT-SAT"), "request.json"), "--roles", "submitter",
		"--signing-key", filepath.Join(c.home("CA-CBSA"), "signing-key.json"))
	if r.code == 0 || !strings.Contains(r.stderr, "PermissionDenied") {
		t.Fatalf("a non-admin adds a member: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = c.as(t, "US-CBP", "member", "suspend", "US-CBP", "--reason", "to escape a review", "--signing-key", filepath.Join(c.home("US-CBP"), "signing-key.json"))
	if r.code == 0 || !strings.Contains(r.stderr, "its own membership") {
		t.Fatalf("an admin suspends itself: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	grant := filepath.Join(root, "grant.jsonl")
	os.WriteFile(grant, []byte(`{"entryId":"grant-self","effectiveTime":"2026-12-01T00:00:00Z","memberRole":{"member":"CA-CBSA","role":"admin"}}`+"\n"), 0o644)
	if r := c.as(t, "CA-CBSA", "submit", "--type", "registry", "--signing-key", filepath.Join(c.home("CA-CBSA"), "signing-key.json"), grant); r.code == 0 {
		t.Fatalf("a member grants itself a role: accepted\n%s", r.stdout)
	}

	// A suspension takes effect from the next entry; what the member
	// signed before still verifies.
	if r := c.as(t, "MX-ANAM", "member", "suspend", "CA-CBSA", "--reason", "review of 2026-Q4 declarations",
		"--signing-key", filepath.Join(c.home("MX-ANAM"), "signing-key.json")); r.code != 0 {
		t.Fatalf("MX-ANAM suspends CA-CBSA: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	c.submitAs(t, "CA-CBSA", "CA", "EV-CA-CBSA-2", true)
	checkAfter := func(t *testing.T) {
		t.Helper()
		if r := c.as(t, "MX-ANAM", "verify", "inclusion", indexes["CA-CBSA"]); r.code != 0 {
			t.Fatalf("CA-CBSA's entry %s from before its suspension: exit %d\n%s%s", indexes["CA-CBSA"], r.code, r.stdout, r.stderr)
		}
		r := c.as(t, "GT-SAT", "member", "list", "--output", "json")
		if r.code != 0 {
			t.Fatalf("member list: exit %d\n%s", r.code, r.stderr)
		}
		var list struct {
			Members []struct {
				ID      string `json:"id"`
				Status  string `json:"status"`
				History []struct {
					Index string `json:"index"`
				} `json:"history"`
			} `json:"members"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatalf("member list --output json: %v\n%s", err, r.stdout)
		}
		got := map[string]string{}
		for _, m := range list.Members {
			got[m.ID] = fmt.Sprintf("%s/%d", m.Status, len(m.History))
		}
		want := map[string]string{"US-CBP": "MEMBER_STATUS_ACTIVE/1", "MX-ANAM": "MEMBER_STATUS_ACTIVE/1",
			"CA-CBSA": "MEMBER_STATUS_SUSPENDED/2", "CO-DIAN": "MEMBER_STATUS_ACTIVE/1", "GT-SAT": "MEMBER_STATUS_ACTIVE/1"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("members (status/changes): %v, want %v", got, want)
		}
	}
	checkAfter(t)

	c.d.stop(t)
	c.start(t)
	t.Run("after a restart", func(t *testing.T) {
		checkAfter(t)
		c.submitAs(t, "CA-CBSA", "CA", "EV-CA-CBSA-3", true)
		c.submitAs(t, "GT-SAT", "GT", "EV-GT-SAT-2", false)
	})
}

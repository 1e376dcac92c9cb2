package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Set by TestMain.
var (
	moduleRoot string // the directory of go.mod
	daemonBin  string // the built chemledgerd
	cliBin     string // the built chemledger
)

// readyTimeout bounds how long a started daemon may take to listen.
const readyTimeout = 20 * time.Second

// TestMain builds the two binaries once for every test in the package.
func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	bin, err := os.MkdirTemp("", "chemledger-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(bin)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		fmt.Fprintf(os.Stderr, "e2e: go env GOMOD = %q, %v; want the module's go.mod\n", out, err)
		return 1
	}
	moduleRoot = filepath.Dir(strings.TrimSpace(string(out)))
	daemonBin = filepath.Join(bin, "chemledgerd")
	cliBin = filepath.Join(bin, "chemledger")
	for _, b := range []struct{ out, pkg string }{{daemonBin, "./cmd/chemledgerd"}, {cliBin, "./cmd/chemledger"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build -o %s %s: %v\n%s", b.out, b.pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is a running chemledgerd.
type daemon struct {
	dir      string
	grpcAddr string
	httpAddr string
	opsAddr  string
	cmd      *exec.Cmd
	stderr   *syncBuffer
	exited   chan struct{} // closed once the process is reaped
	// plaintext: started with --insecure-dev-plaintext.
	plaintext bool
	waitErr   error // valid after exited is closed
}

// daemonCmd starts chemledgerd in dev mode on dir with ephemeral ports and
// returns it without waiting for it to listen. It is killed at cleanup.
func daemonCmd(tb testing.TB, dir, readyFile string, extra ...string) *daemon {
	tb.Helper()
	return daemonCmdOf(tb, daemonBin, nil, dir, readyFile, extra...)
}

// daemonCmdOf is daemonCmd for bin, a build of chemledgerd, with env added
// to the clean environment.
func daemonCmdOf(tb testing.TB, bin string, env []string, dir, readyFile string, extra ...string) *daemon {
	tb.Helper()
	// Tests of storage and durability run plaintext; "--secure" (ours,
	// not the daemon's) runs it with mutual TLS and the development PKI,
	// which the CLI then finds in the data directory.
	plaintext, dev := true, []string{"--dev"}
	if i := slices.Index(extra, "--secure"); i >= 0 {
		plaintext, extra = false, slices.Delete(slices.Clone(extra), i, i+1)
	}
	// "--production" (also ours) runs it as a coalition would: no dev
	// mode, the TLS files the test passes.
	if i := slices.Index(extra, "--production"); i >= 0 {
		plaintext, dev, extra = false, nil, slices.Delete(slices.Clone(extra), i, i+1)
	}
	args := append(dev, "--data-dir", dir,
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0",
		"--ready-file", readyFile, "--log-level", "warn")
	args = append(args, extra...)
	if plaintext {
		args = append(args, "--insecure-dev-plaintext")
	}
	d := &daemon{dir: dir, stderr: &syncBuffer{}, exited: make(chan struct{}), plaintext: plaintext}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout = d.stderr
	d.cmd.Stderr = d.stderr
	// Keep the caller's environment from choosing other flags.
	d.cmd.Env = append(cleanEnv(), env...)
	if err := d.cmd.Start(); err != nil {
		tb.Fatalf("start %s %v: %v", filepath.Base(bin), args, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

// cleanEnv is the environment without CHEMLEDGER_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHEMLEDGER_") {
			env = append(env, kv)
		}
	}
	return env
}

// startDaemon starts chemledgerd on dir and waits until it listens.
func startDaemon(tb testing.TB, dir string, extra ...string) *daemon {
	tb.Helper()
	return startDaemonOf(tb, daemonBin, nil, dir, extra...)
}

// startDaemonOf is startDaemon for bin, a build of chemledgerd, with env
// added to the clean environment.
func startDaemonOf(tb testing.TB, bin string, env []string, dir string, extra ...string) *daemon {
	tb.Helper()
	ready := filepath.Join(dir, "ready.json")
	if err := os.Remove(ready); err != nil && !errors.Is(err, fs.ErrNotExist) {
		tb.Fatal(err)
	}
	d := daemonCmdOf(tb, bin, env, dir, ready, extra...)
	name := filepath.Base(bin)
	deadline := time.After(readyTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(ready)
		if err == nil {
			var addrs struct{ GRPC, HTTP, Ops string }
			if err := json.Unmarshal(b, &addrs); err != nil || addrs.GRPC == "" || addrs.HTTP == "" || addrs.Ops == "" {
				tb.Fatalf("ready file %s = %q (%v), want {\"grpc\": ADDR, \"http\": ADDR, \"ops\": ADDR}", ready, b, err)
			}
			d.grpcAddr, d.httpAddr, d.opsAddr = addrs.GRPC, addrs.HTTP, addrs.Ops
			return d
		}
		select {
		case <-d.exited:
			tb.Fatalf("%s exited before it was ready (%v); its output:\n%s", name, d.waitErr, d.stderr)
		case <-deadline:
			tb.Fatalf("%s wrote no ready file within %v; its output:\n%s", name, readyTimeout, d.stderr)
		case <-tick.C:
		}
	}
}

// waitExit waits up to timeout for the process to end and returns its exit
// code.
func (d *daemon) waitExit(tb testing.TB, timeout time.Duration) int {
	tb.Helper()
	select {
	case <-d.exited:
	case <-time.After(timeout):
		tb.Fatalf("chemledgerd still running after %v; its output:\n%s", timeout, d.stderr)
	}
	var ee *exec.ExitError
	switch {
	case d.waitErr == nil:
		return 0
	case errors.As(d.waitErr, &ee):
		return ee.ExitCode()
	}
	tb.Fatalf("wait for chemledgerd: %v", d.waitErr)
	return -1
}

// stop shuts the daemon down with SIGTERM and checks that it exits cleanly.
func (d *daemon) stop(tb testing.TB) {
	tb.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatalf("SIGTERM: %v", err)
	}
	if code := d.waitExit(tb, 15*time.Second); code != 0 {
		tb.Fatalf("chemledgerd exited with %d after SIGTERM, want 0; its output:\n%s", code, d.stderr)
	}
}

// kill ends the daemon with SIGKILL, as a crash or power cut would, and
// waits until it is gone.
func (d *daemon) kill(tb testing.TB) {
	tb.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatalf("SIGKILL: %v", err)
	}
	d.waitExit(tb, 10*time.Second)
}

// logKey is the log's note verifier key from the data dir.
func logKey(tb testing.TB, dir string) string {
	tb.Helper()
	vkey, err := datadir.ReadLogVerifierKey(datadir.Layout{Dir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	return vkey
}

// devOrigin is the origin of the dev log in dir, chosen when it was made.
func devOrigin(tb testing.TB, dir string) string {
	tb.Helper()
	s, err := datadir.ReadLogSigner(datadir.Layout{Dir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	return s.Name()
}

// dial returns a client of d that pins the log key from the data dir.
func (d *daemon) dial(tb testing.TB) *client.Client {
	tb.Helper()
	c, err := client.Dial(d.grpcAddr, client.WithLogVerifierKey(logKey(tb, d.dir)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// cliResult is the outcome of one CLI run.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the chemledger binary from the module root (so relative
// paths like examples/events.jsonl work) against d.
func (d *daemon) runCLI(tb testing.TB, args ...string) cliResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	all := append([]string{"--server", d.grpcAddr, "--data-dir", d.dir, "--timeout", "30s"}, args...)
	if d.plaintext {
		all = append([]string{"--insecure"}, all...)
	}
	cmd := exec.CommandContext(ctx, cliBin, all...)
	cmd.Dir = moduleRoot
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		tb.Fatalf("run chemledger %v: %v", all, err)
	}
	return r
}

// exampleLine is one line of examples/events.jsonl.
type exampleLine struct {
	raw    []byte
	event  *chemledgerv1.ShipmentEvent
	member string // the demo member that reports from its location country
}

const examplesFile = "examples/events.jsonl"

func readExamples(tb testing.TB) []exampleLine {
	tb.Helper()
	f, err := os.Open(filepath.Join(moduleRoot, examplesFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []exampleLine
	for l := range eventfile.Read(f) {
		if l.Err != nil {
			tb.Fatalf("%s: %v", examplesFile, l.Err)
		}
		m, err := eventfile.DemoMemberFor(l.Event)
		if err != nil {
			tb.Fatalf("%s line %d: %v", examplesFile, l.Number, err)
		}
		out = append(out, exampleLine{raw: l.Raw, event: l.Event, member: m})
	}
	if len(out) != 33 {
		tb.Fatalf("%s has %d events, want 33", examplesFile, len(out))
	}
	return out
}

// demoSigners reads the demo members' private keys that dev mode wrote to
// the data dir, by member id.
func demoSigners(tb testing.TB, dir string) map[string]envelope.Signer {
	tb.Helper()
	l := datadir.Layout{Dir: dir}
	out := map[string]envelope.Signer{}
	for _, m := range datadir.DemoMembers {
		p, err := members.ReadPrivateKey(l.MemberKey(m.ID))
		if err != nil {
			tb.Fatal(err)
		}
		out[m.ID] = p.Signer()
	}
	return out
}

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The witnesses of these tests are litewitness (filippo.io/torchwood), a
// tlog-witness implementation nobody here wrote, keyed through ssh-agent
// and keeping its state in SQLite. scripts/test-tools (the README's test command) installs them.

// witnessTools finds litewitness, witnessctl and the OpenSSH tools, on PATH
// or in GOPATH/bin, and skips the test, saying what is missing, without them.
func witnessTools(tb testing.TB) map[string]string {
	tb.Helper()
	gobin := ""
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
	}
	tools := map[string]string{}
	var missing []string
	for _, name := range []string{"litewitness", "witnessctl", "ssh-agent", "ssh-add", "ssh-keygen"} {
		p, err := exec.LookPath(name)
		if err != nil && gobin != "" {
			if _, serr := os.Stat(filepath.Join(gobin, name)); serr == nil {
				p, err = filepath.Join(gobin, name), nil
			}
		}
		if err != nil {
			missing = append(missing, name)
			continue
		}
		tools[name] = p
	}
	if len(missing) > 0 {
		tb.Skipf("witness tests need %s: install with scripts/test-tools (go install filippo.io/torchwood/cmd/litewitness@v0.6.1 filippo.io/torchwood/cmd/witnessctl@v0.6.1; apt-get install -y openssh-client)", strings.Join(missing, ", "))
	}
	return tools
}

// liteWitness is one running litewitness and its ssh-agent.
type liteWitness struct {
	name, vkey, url string
	cmd, agent      *exec.Cmd
	out             *syncBuffer
	exited          chan struct{}
}

// startLitewitnesses starts n litewitness instances on 127.0.0.1, each with
// its own key, ssh-agent and database, all knowing the log origin with key
// logVKey. They are stopped at cleanup.
func startLitewitnesses(tb testing.TB, n int, origin, logVKey string) []*liteWitness {
	tb.Helper()
	tools := witnessTools(tb)
	var out []*liteWitness
	for i := range n {
		dir := tb.TempDir()
		w := &liteWitness{name: fmt.Sprintf("w%d.witness.chemledger.test", i+1), out: &syncBuffer{}, exited: make(chan struct{})}
		run := func(name string, args ...string) string {
			tb.Helper()
			cmd := exec.Command(tools[name], args...)
			cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+filepath.Join(dir, "agent.sock"))
			b, err := cmd.CombinedOutput()
			if err != nil {
				tb.Fatalf("%s %v: %v\n%s", name, args, err, b)
			}
			return string(b)
		}
		key := filepath.Join(dir, "witness.key")
		run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", w.name, "-f", key)
		fp := strings.Fields(run("ssh-keygen", "-l", "-f", key+".pub"))
		if len(fp) < 2 || !strings.HasPrefix(fp[1], "SHA256:") {
			tb.Fatalf("ssh-keygen -l: %q, want a SHA256 fingerprint", fp)
		}
		sock := filepath.Join(dir, "agent.sock")
		w.agent = exec.Command(tools["ssh-agent"], "-D", "-a", sock)
		if err := w.agent.Start(); err != nil {
			tb.Fatalf("ssh-agent: %v", err)
		}
		agent := w.agent
		tb.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
		waitFor(tb, "ssh-agent socket", func() bool { _, err := os.Stat(sock); return err == nil })
		run("ssh-add", key)
		db := filepath.Join(dir, "witness.db")
		run("witnessctl", "add-log", "-db", db, "-origin", origin)
		run("witnessctl", "add-key", "-db", db, "-origin", origin, "-key", logVKey)
		addr := freeAddr(tb)
		w.url = "http://" + addr
		w.cmd = exec.Command(tools["litewitness"], "-name", w.name, "-key", fp[1], "-ssh-agent", sock, "-db", db, "-listen", addr)
		w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
		if err := w.cmd.Start(); err != nil {
			tb.Fatalf("litewitness: %v", err)
		}
		go func() { w.cmd.Wait(); close(w.exited) }()
		tb.Cleanup(w.stop)
		waitFor(tb, w.name+" listening", func() bool {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		w.vkey = logValue(tb, w.out.String(), "verifier key", "vkey")
		out = append(out, w)
	}
	return out
}

// stop ends the witness (SIGTERM, then SIGKILL) and waits until it is gone.
func (w *liteWitness) stop() {
	select {
	case <-w.exited:
		return
	default:
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
		w.cmd.Process.Kill()
		<-w.exited
	}
}

// witnessPolicy writes a policy of the witnesses with a k-of-n quorum and
// returns its path.
func witnessPolicy(tb testing.TB, ws []*liteWitness, k int) string {
	tb.Helper()
	var b strings.Builder
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = fmt.Sprintf("w%d", i+1)
		fmt.Fprintf(&b, "witness %s %s %s\n", names[i], w.vkey, w.url)
	}
	fmt.Fprintf(&b, "group coalition %d %s\nquorum coalition\n", k, strings.Join(names, " "))
	p := filepath.Join(tb.TempDir(), "witness-policy.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// logValue finds the slog text line with message msg in out and returns
// its key attribute.
func logValue(tb testing.TB, out, msg, key string) string {
	tb.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="`+msg+`"`) {
			continue
		}
		_, v, ok := strings.Cut(line, " "+key+"=")
		if !ok {
			continue
		}
		if strings.HasPrefix(v, `"`) {
			if u, err := strconv.QuotedPrefix(v); err == nil {
				s, _ := strconv.Unquote(u)
				return s
			}
		}
		v, _, _ = strings.Cut(v, " ")
		return v
	}
	tb.Fatalf("no %q line with %s= in:\n%s", msg, key, out)
	return ""
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond for up to ten seconds.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	waitForWithin(tb, what, 10*time.Second, cond)
}

// waitForWithin polls cond for up to d.
func waitForWithin(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			tb.Fatalf("waited %v for %s", d, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

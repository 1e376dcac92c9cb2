package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// liteWitnesses starts n litewitness processes (filippo.io/torchwood, the
// tools scripts/test-tools installs) on 127.0.0.1, each with its own ssh-agent,
// key and SQLite database knowing the log origin with key logVKey, and
// returns their policy lines and a stop function.
func liteWitnesses(dir string, n int, origin, logVKey string) (lines []string, stop func(), err error) {
	var procs []*exec.Cmd
	stop = func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				p.Process.Kill()
			}
		}
	}
	tool := func(name string) (string, error) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s not found: run scripts/test-tools once, or go install filippo.io/torchwood/cmd/%s@v0.6.1", name, name)
		}
		return p, nil
	}
	for i := range n {
		wdir := filepath.Join(dir, fmt.Sprintf("witness%d", i+1))
		if err := os.MkdirAll(wdir, 0o700); err != nil {
			return nil, stop, err
		}
		sock := filepath.Join(wdir, "agent.sock")
		run := func(name string, args ...string) (string, error) {
			p, err := tool(name)
			if err != nil {
				return "", err
			}
			cmd := exec.Command(p, args...)
			cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
			b, err := cmd.CombinedOutput()
			if err != nil {
				return "", fmt.Errorf("%s %v: %v: %s", name, args, err, b)
			}
			return string(b), nil
		}
		name := fmt.Sprintf("w%d.bench.chemledger.test", i+1)
		key := filepath.Join(wdir, "key")
		if _, err := run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key); err != nil {
			return nil, stop, err
		}
		fp, err := run("ssh-keygen", "-l", "-f", key+".pub")
		if err != nil {
			return nil, stop, err
		}
		agentBin, err := tool("ssh-agent")
		if err != nil {
			return nil, stop, err
		}
		agent := exec.Command(agentBin, "-D", "-a", sock)
		if err := agent.Start(); err != nil {
			return nil, stop, err
		}
		procs = append(procs, agent)
		for j := 0; j < 500; j++ {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := run("ssh-add", key); err != nil {
			return nil, stop, err
		}
		db := filepath.Join(wdir, "w.db")
		if _, err := run("witnessctl", "add-log", "-db", db, "-origin", origin); err != nil {
			return nil, stop, err
		}
		if _, err := run("witnessctl", "add-key", "-db", db, "-origin", origin, "-key", logVKey); err != nil {
			return nil, stop, err
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, stop, err
		}
		addr := l.Addr().String()
		l.Close()
		lw, err := tool("litewitness")
		if err != nil {
			return nil, stop, err
		}
		out, err := os.Create(filepath.Join(wdir, "log"))
		if err != nil {
			return nil, stop, err
		}
		cmd := exec.Command(lw, "-name", name, "-key", strings.Fields(fp)[1], "-ssh-agent", sock, "-db", db, "-listen", addr)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			return nil, stop, err
		}
		procs = append(procs, cmd)
		vkey := ""
		for j := 0; j < 500 && vkey == ""; j++ {
			time.Sleep(10 * time.Millisecond)
			b, _ := os.ReadFile(out.Name())
			sc := bufio.NewScanner(strings.NewReader(string(b)))
			for sc.Scan() {
				if _, v, ok := strings.Cut(sc.Text(), " vkey="); ok && strings.Contains(sc.Text(), `msg="verifier key"`) {
					vkey, _, _ = strings.Cut(v, " ")
				}
			}
		}
		if vkey == "" {
			return nil, stop, fmt.Errorf("litewitness %s printed no verifier key", name)
		}
		for j := 0; j < 500; j++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		lines = append(lines, fmt.Sprintf("witness w%d %s http://%s\n", i+1, vkey, addr))
	}
	return lines, stop, nil
}

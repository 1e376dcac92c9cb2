package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chemledger/chemledger/client/clienttest"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/members"
)

// devLog is a fake log with a dev-mode data directory beside it: the demo
// members' keys and the log's verifier key.
type devLog struct {
	srv  *clienttest.Server
	dir  string
	keys map[string]members.PrivateKey
}

func newDevLog(tb testing.TB) *devLog {
	tb.Helper()
	l := datadir.Layout{Dir: tb.TempDir()}
	if err := os.MkdirAll(filepath.Join(l.Dir, "keys"), 0o700); err != nil {
		tb.Fatal(err)
	}
	d := &devLog{dir: l.Dir, keys: map[string]members.PrivateKey{}}
	var ms []members.Member
	for _, m := range datadir.DemoMembers {
		p, err := members.GenerateKey(m.ID)
		if err != nil {
			tb.Fatal(err)
		}
		if err := members.WritePrivateKey(l.MemberKey(m.ID), p); err != nil {
			tb.Fatal(err)
		}
		d.keys[m.ID] = p
		ms = append(ms, members.Member{ID: m.ID, Name: m.Name, Country: m.Country, Keys: []members.PublicKey{p.Public()}})
	}
	reg, err := members.New(ms)
	if err != nil {
		tb.Fatal(err)
	}
	d.srv = clienttest.NewServer(tb, clienttest.Config{Members: reg, BatchSize: 2})
	if err := os.WriteFile(l.LogPub(), []byte(d.srv.VerifierKey+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return d
}

// flags point the CLI at the fake log.
func (d *devLog) flags(args ...string) []string {
	return append([]string{"--server", d.srv.Addr, "--data-dir", d.dir, "--timeout", "10s"}, args...)
}

type result struct {
	stdout, stderr string
	err            error
}

// run drives the CLI in-process, as main would, with env as the
// environment.
func run(tb testing.TB, env map[string]string, stdin io.Reader, args ...string) result {
	tb.Helper()
	// The test servers are plaintext unless a test says otherwise with
	// CHEMLEDGER_INSECURE=false.
	cmd := newRootCmd(func(k string) string {
		if v, ok := env[k]; ok || k != "CHEMLEDGER_INSECURE" {
			return v
		}
		return "true"
	})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.SetIn(stdin)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(tb.Context())
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

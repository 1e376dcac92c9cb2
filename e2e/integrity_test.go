package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/storage"
)

// Integrity at rest (issue 10): a deleted, truncated, rolled-back or
// replaced ledger.db or audit.db is refused at start, never served as the
// log; a new log comes only from `chemledgerd init` (or --dev in an empty
// data dir).

// startRefused runs chemledgerd on dir, with --dev or with production
// flags (no --dev; plaintext so that no certificates are needed), and
// expects it to refuse to start: a non-zero exit within refuseTimeout, no
// ready file, and every string of want in its output, which it returns.
func startRefused(t *testing.T, dir string, dev bool, want []string, extra ...string) string {
	t.Helper()
	ready := filepath.Join(dir, "ready.json")
	os.Remove(ready)
	var d *daemon
	if dev {
		d = daemonCmd(t, dir, ready, extra...)
	} else {
		d = productionCmd(t, dir, ready, extra...)
	}
	select {
	case <-d.exited:
	case <-time.After(refuseTimeout):
		d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("chemledgerd (dev %v) %v was still running after %v: it served the data dir instead of refusing; its output:\n%s", dev, extra, refuseTimeout, d.stderr)
	}
	out := d.stderr.String()
	if d.waitErr == nil {
		t.Errorf("chemledgerd (dev %v) %v exited 0, want a refusal; output:\n%s", dev, extra, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("chemledgerd (dev %v) %v output:\n%s\nwant it to contain %q", dev, extra, out, w)
		}
	}
	if strings.Contains(out, `msg="new log"`) {
		t.Errorf("chemledgerd (dev %v) started a new log:\n%s", dev, out)
	}
	if _, err := os.Stat(ready); err == nil {
		t.Errorf("chemledgerd (dev %v) wrote its ready file: it listened", dev)
	}
	return out
}

// productionCmd starts chemledgerd without --dev (plaintext, so that it
// needs no certificates) and returns without waiting.
func productionCmd(tb testing.TB, dir, ready string, extra ...string) *daemon {
	tb.Helper()
	args := append([]string{"--data-dir", dir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--ready-file", ready, "--log-level", "info", "--insecure-dev-plaintext"}, extra...)
	d := &daemon{dir: dir, stderr: &syncBuffer{}, exited: make(chan struct{}), plaintext: true}
	d.cmd = exec.Command(daemonBin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.stderr, d.stderr
	d.cmd.Env = cleanEnv()
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
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

// submitFresh submits n fresh copies of the example events over one bulk
// stream, with submission and event ids prefix-0, prefix-1, …, and fails
// unless every one is accepted.
func submitFresh(t *testing.T, d *daemon, prefix string, n int) {
	t.Helper()
	examples := readExamples(t)
	signers := demoSigners(t, d.dir)
	items := make([]client.Item, n)
	for i := range items {
		ex := examples[i%len(examples)]
		id := fmt.Sprintf("%s-%04d", prefix, i)
		items[i] = client.Item{SubmissionID: id, Envelope: signedEvent(t, ex, id, true, signers[ex.member])}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	accepted := 0
	err := d.dial(t).SubmitStream(ctx, slices.Values(items), func(r client.BulkResult) {
		if r.Err != nil {
			t.Errorf("item %d (%s): %v", r.Position, r.SubmissionID, r.Err)
			return
		}
		accepted++
	})
	if err != nil || accepted != n {
		t.Fatalf("bulk submit of %d: %d accepted, %v", n, accepted, err)
	}
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestMissingLedgerIsNotANewLog deletes, truncates or replaces ledger.db
// of a stopped service whose key, members file and audit trail remain, and
// starts it with dev and with production flags: it must refuse, say that
// the ledger is missing and how to restore it, and create nothing.
func TestMissingLedgerIsNotANewLog(t *testing.T) {
	pristine := t.TempDir()
	d := startDaemon(t, pristine)
	if r := d.runCLI(t, "submit", examplesFile); r.code != 0 {
		t.Fatalf("submit %s: exit %d\n%s", examplesFile, r.code, r.stderr)
	}
	d.stop(t)

	tests := []struct {
		name string
		lose func(tb testing.TB, path string)
		want []string
	}{
		{
			name: "deleted",
			lose: func(tb testing.TB, path string) {
				if err := os.Remove(path); err != nil {
					tb.Fatal(err)
				}
			},
			want: []string{"ledger.db is missing or empty", "log.key", "checkpoint 33", "Restore ledger.db from a backup", "chemledgerd init"},
		},
		{
			name: "truncated to zero",
			lose: func(tb testing.TB, path string) {
				if err := os.Truncate(path, 0); err != nil {
					tb.Fatal(err)
				}
			},
			want: []string{"ledger.db is missing or empty", "log.key", "checkpoint 33", "Restore ledger.db from a backup", "chemledgerd init"},
		},
		{
			name: "replaced by an empty database",
			lose: func(tb testing.TB, path string) {
				if err := os.Remove(path); err != nil {
					tb.Fatal(err)
				}
				s, err := storage.Open(path, storage.DefaultOptions())
				if err != nil {
					tb.Fatal(err)
				}
				s.Close()
			},
			want: []string{"holds no signed checkpoint", "restore ledger.db from a backup"},
		},
	}
	for _, tt := range tests {
		for _, dev := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/dev=%v", tt.name, dev), func(t *testing.T) {
				dir := copyDataDir(t, pristine)
				db := datadir.Layout{Dir: dir}.DB()
				tt.lose(t, db)
				before, _ := os.Stat(db)
				startRefused(t, dir, dev, tt.want)
				after, err := os.Stat(db)
				switch {
				case before == nil && !errors.Is(err, fs.ErrNotExist):
					t.Errorf("the refused start created %s", db)
				case before != nil && (after == nil || after.Size() != before.Size()):
					t.Errorf("the refused start changed %s from %d bytes to %v", db, before.Size(), after)
				}
			})
		}
	}
}

// TestInit creates logs with `chemledgerd init` and checks what it prints,
// what it refuses, and that the service then serves the log it made.
func TestInit(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "chemledger.example.org/log")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "log.key")
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantVKey string // "" for any key of wantName
		wantName string
		wantErr  string
	}{
		{name: "generated key", args: []string{"--origin", "chemledger.test/log"}, wantName: "chemledger.test/log"},
		{name: "given key", args: []string{"--log-key-file", keyFile}, wantVKey: vkey, wantName: "chemledger.example.org/log"},
		{name: "given key and its origin", args: []string{"--log-key-file", keyFile, "--origin", "chemledger.example.org/log"}, wantVKey: vkey, wantName: "chemledger.example.org/log"},
		{name: "given key, another origin", args: []string{"--log-key-file", keyFile, "--origin", "other/log"}, wantCode: 1, wantErr: "not --origin"},
		{name: "no origin", wantCode: 1, wantErr: "--origin is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			code, stdout, stderr := runInit(t, append([]string{"--data-dir", dir}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("chemledgerd init %v: exit %d, stderr:\n%s\nwant exit %d and %q", tt.args, code, stderr, tt.wantCode, tt.wantErr)
			}
			if tt.wantCode != 0 {
				if st, err := datadir.Inspect(datadir.Layout{Dir: dir}); err != nil || !st.Empty() {
					t.Errorf("refused init left %+v (%v) in %s", st, err, dir)
				}
				return
			}
			got := strings.TrimSpace(stdout)
			v, err := note.NewVerifier(got)
			if err != nil || v.Name() != tt.wantName || (tt.wantVKey != "" && got != tt.wantVKey) {
				t.Fatalf("chemledgerd init printed %q (%v); want the verifier key of %q %s", got, err, tt.wantName, tt.wantVKey)
			}
			if pub := logKey(t, dir); pub != got {
				t.Errorf("log.pub = %q, init printed %q", pub, got)
			}

			// A second init refuses, whatever it is given.
			if code, _, stderr := runInit(t, append([]string{"--data-dir", dir}, tt.args...)...); code == 0 || !strings.Contains(stderr, "already holds a log") {
				t.Errorf("second chemledgerd init: exit %d, stderr:\n%s\nwant a refusal saying the dir already holds a log", code, stderr)
			}
			// The service serves the log init made (dev mode adds the
			// members and certificates init leaves to the operator).
			d := startDaemon(t, dir)
			cp, _, err := d.dial(t).Checkpoint(t.Context())
			if err != nil || cp.Origin != tt.wantName || cp.Size != 0 {
				t.Errorf("checkpoint of the new log: %+v, %v; want origin %q, size 0", cp, err, tt.wantName)
			}
			d.stop(t)
		})
	}
}

func runInit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, daemonBin, append([]string{"init"}, args...)...)
	cmd.Env = cleanEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("chemledgerd init %v: %v", args, err)
	}
	return code, o.String(), e.String()
}

// TestRolledBackLedgerIsRefused replaces ledger.db with a copy taken at
// 150 of 300 acknowledged entries: the audit trail has seen checkpoint 300,
// so the start is refused, naming both heads.
func TestRolledBackLedgerIsRefused(t *testing.T) {
	dir := t.TempDir()
	layout := datadir.Layout{Dir: dir}
	d := startDaemon(t, dir)
	submitFresh(t, d, "RB-A", 150)
	d.stop(t)
	backup := filepath.Join(t.TempDir(), "ledger-150.db")
	copyFile(t, layout.DB(), backup)

	d = startDaemon(t, dir)
	submitFresh(t, d, "RB-B", 150)
	if cp, _, err := d.dial(t).Checkpoint(t.Context()); err != nil || cp.Size != 300 {
		t.Fatalf("checkpoint after 300 entries: %+v, %v", cp, err)
	}
	d.stop(t)

	for _, verify := range []string{"full", "state"} {
		t.Run("verify-on-start="+verify, func(t *testing.T) {
			dir := copyDataDir(t, dir)
			copyFile(t, backup, datadir.Layout{Dir: dir}.DB())
			startRefused(t, dir, true, []string{"was rolled back", "holds 150 entries", "has seen checkpoint 300", "audit trail at record", "restore the file from a backup"}, "--verify-on-start="+verify)
		})
	}
	// The data dir as it was, with all 300, serves.
	startDaemon(t, copyDataDir(t, dir)).stop(t)
}

// TestLostAuditTrailIsRefused deletes, truncates or rolls back audit.db of
// a stopped service: the ledger recorded the trail's head, so the start is
// refused unless the operator starts a new trail, which then says so in
// its first record.
func TestLostAuditTrailIsRefused(t *testing.T) {
	pristine := t.TempDir()
	layout := datadir.Layout{Dir: pristine}
	d := startDaemon(t, pristine)
	if r := d.runCLI(t, "submit", examplesFile); r.code != 0 {
		t.Fatalf("submit: exit %d\n%s", r.code, r.stderr)
	}
	d.stop(t)
	early := filepath.Join(t.TempDir(), "audit-early.db")
	copyFile(t, layout.Audit(), early)
	d = startDaemon(t, pristine)
	for i := range 5 {
		if r := d.runCLI(t, "get", fmt.Sprint(i)); r.code != 0 {
			t.Fatalf("get %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	d.stop(t)

	lose := map[string]func(tb testing.TB, path string){
		"deleted": func(tb testing.TB, path string) {
			if err := os.Remove(path); err != nil {
				tb.Fatal(err)
			}
		},
		"truncated to zero": func(tb testing.TB, path string) {
			if err := os.Truncate(path, 0); err != nil {
				tb.Fatal(err)
			}
		},
		"rolled back": func(tb testing.TB, path string) { copyFile(tb, early, path) },
	}
	tests := []struct {
		name string
		lose string
		want []string
	}{
		{"deleted", "deleted", []string{"audit.db is missing or empty", "the ledger recorded its head at record", "checkpoint 33", "--new-audit-trail"}},
		{"truncated to zero", "truncated to zero", []string{"audit.db is missing or empty", "the ledger recorded its head at record", "--new-audit-trail"}},
		{"rolled back", "rolled back", []string{"audit.db was rolled back", "it ends at record", "the ledger recorded its head at record", "checkpoint 33", "restore the file from a backup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDataDir(t, pristine)
			path := datadir.Layout{Dir: dir}.Audit()
			lose[tt.lose](t, path)
			before, _ := os.Stat(path)
			startRefused(t, dir, true, tt.want)
			if after, err := os.Stat(path); (before == nil) != (after == nil) || before != nil && before.Size() != after.Size() {
				t.Errorf("the refused start changed %s: %v before, %v (%v) after", path, before, after, err)
			}
		})
	}

	t.Run("new trail over an existing one", func(t *testing.T) {
		dir := copyDataDir(t, pristine)
		lose["rolled back"](t, datadir.Layout{Dir: dir}.Audit())
		startRefused(t, dir, true, []string{"--new-audit-trail", "holds a trail", "move the file aside"}, "--new-audit-trail")
	})

	t.Run("new trail, asked for", func(t *testing.T) {
		dir := copyDataDir(t, pristine)
		l := datadir.Layout{Dir: dir}
		lose["deleted"](t, l.Audit())
		d := startDaemon(t, dir, "--new-audit-trail")
		if _, _, err := d.dial(t).Checkpoint(t.Context()); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		d.stop(t)
		// It starts again without the flag: the new trail is anchored.
		startDaemon(t, dir).stop(t)

		opts := audit.DefaultOptions(l.Audit())
		a, err := audit.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		recs, total, err := a.List(0, 1)
		if err != nil || len(recs) != 1 {
			t.Fatalf("List(0, 1) = %v, %d, %v", recs, total, err)
		}
		first := recs[0]
		res := strings.Join(first.Resources, " | ")
		if first.Method != audit.MethodNewTrail || !strings.Contains(res, "ledger checkpoint 33 root ") || !strings.Contains(res, "previous trail: record ") {
			t.Errorf("first record of the new trail = %+v; want %s naming ledger checkpoint 33 and the previous trail's head", first, audit.MethodNewTrail)
		}
		if _, err := a.VerifyAll(); err != nil {
			t.Errorf("the new trail does not verify: %v", err)
		}
	})
}

// TestCrashBetweenLedgerAndAuditCommits kills the service after a
// checkpoint is committed to the ledger and before the audit trail records
// it: the restart must not take the lag for a rollback, and everything
// acknowledged is there (runFailpoint checks the log).
func TestCrashBetweenLedgerAndAuditCommits(t *testing.T) {
	bin := failpointDaemonBin(t)
	t.Run("the ledger is ahead of the trail's record", func(t *testing.T) {
		dir := t.TempDir()
		d := startDaemonOf(t, bin, []string{"CHEMLEDGER_FAILPOINTS=chemledgerd/before-anchor=kill@2"}, dir)
		d.runCLI(t, "submit", examplesFile) // dies part way
		checkDeath(t, d, "chemledgerd/before-anchor", "kill")

		st, err := storage.Open(datadir.Layout{Dir: dir}.DB(), storage.Options{ReadOnly: true, LockTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var size uint64
		err = st.View(func(tx *storage.ReadTx) (err error) { size, _, err = tx.LatestCheckpoint(); return err })
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		a, err := audit.Open(audit.DefaultOptions(datadir.Layout{Dir: dir}.Audit()))
		if err != nil {
			t.Fatal(err)
		}
		seen, _, err := a.LedgerHead()
		a.Close()
		if err != nil || seen.Size >= size {
			t.Fatalf("after the kill the ledger holds %d entries and the trail recorded checkpoint %d (%v); want the trail behind", size, seen.Size, err)
		}
		t.Logf("killed with the ledger at %d entries and the trail's record at %d", size, seen.Size)

		d = startDaemon(t, dir)
		if cp, _, err := d.dial(t).Checkpoint(t.Context()); err != nil || cp.Size != size {
			t.Errorf("restarted: checkpoint %+v, %v; want the %d entries the ledger committed", cp, err, size)
		}
		d.stop(t)
	})
	for _, nth := range []int64{1, 5} {
		t.Run(fmt.Sprintf("under load, kill at anchor %d", nth), func(t *testing.T) {
			runFailpoint(t, "chemledgerd/before-anchor", "kill", nth, readExamples(t), readRegistryExamples(t))
		})
	}
}

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// backupAck is an acknowledged submission and when its receipt came.
type backupAck struct {
	id    string
	env   []byte
	index uint64
	at    time.Time
}

// TestBackupRestore takes a backup with the real binary while writers keep
// submitting, restores it into a new data dir, starts it and finds every
// entry acknowledged up to the backup's checkpoint byte for byte; then a
// restore of that older backup over the newer log, and a start with only
// ledger.db replaced by the backup's, are both refused.
func TestBackupRestore(t *testing.T) {
	work := t.TempDir()
	dirA := filepath.Join(work, "a")
	d := startDaemon(t, dirA, "--secure")
	tlsDir := datadir.Layout{Dir: dirA}.TLS()
	clientOf := func(dir, member, role string) *client.Client {
		t.Helper()
		cfg, err := pki.LoadClient(tlsDir.CA(), tlsDir.ClientCert(member, role), tlsDir.ClientKey(member, role))
		if err != nil {
			t.Fatal(err)
		}
		return nil2(t, func() (*client.Client, error) {
			return client.Dial(d.grpcAddr, client.WithTLS(cfg), client.WithLogVerifierKey(logKey(t, dir)))
		})
	}
	examples := readExamples(t)
	signers := demoSigners(t, dirA)

	// Writers, each as the submitter of its examples' members, until told
	// to stop.
	var (
		mu    sync.Mutex
		acked []backupAck
		wg    sync.WaitGroup
	)
	ctx, stopWriters := context.WithCancel(t.Context())
	defer stopWriters()
	const writers = 3
	for w := range writers {
		conns := map[string]*client.Client{}
		for _, m := range datadir.DemoMembers {
			conns[m.ID] = clientOf(dirA, m.ID, pki.RoleSubmitter)
		}
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				ex := examples[(w+n)%len(examples)]
				id := fmt.Sprintf("backup-w%d-%d", w, n)
				env := signedEvent(t, ex, id, n%2 == 0, signers[ex.member])
				r, err := conns[ex.member].SubmitEnvelope(ctx, id, env)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("submit %s: %v", id, err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, backupAck{id: id, env: env, index: r.Index, at: time.Now()})
				mu.Unlock()
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d acknowledged submissions, want %d; daemon output:\n%s", count(), n, d.stderr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(30)

	backup := filepath.Join(work, "log.backup")
	admin := []string{"--server", d.grpcAddr, "--ca", tlsDir.CA(),
		"--cert", tlsDir.ClientCert("US-CBP", pki.RoleAdmin), "--key", tlsDir.ClientKey("US-CBP", pki.RoleAdmin)}
	began := time.Now()
	if out, code := runDaemonCmd(t, append([]string{"backup", "--to", backup}, admin...)...); code != 0 {
		t.Fatalf("chemledgerd backup: exit %d\n%s", code, out)
	}
	ended := time.Now()
	before := count()
	waitFor(before + 20)
	stopWriters()
	wg.Wait()
	d.stop(t)

	m := readBackupManifest(t, backup)
	if m.GetVerifierKey() != logKey(t, dirA) || m.GetOrigin() != devOrigin(t, dirA) {
		t.Fatalf("backup manifest names the log %q with key %q, want %q with %q", m.GetOrigin(), m.GetVerifierKey(), devOrigin(t, dirA), logKey(t, dirA))
	}
	v, err := note.NewVerifier(m.GetVerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Open([]byte(m.GetCheckpoint()), m.GetOrigin(), v)
	if err != nil {
		t.Fatalf("backup checkpoint %q: %v", m.GetCheckpoint(), err)
	}
	var during, covered, after int
	for _, a := range acked {
		if a.at.After(began) && a.at.Before(ended) {
			during++
		}
		if a.index < cp.Size {
			covered++
		} else {
			after++
		}
	}
	t.Logf("backup at checkpoint %d; %d receipts while it ran, %d entries covered, %d after", cp.Size, during, covered, after)
	if during == 0 || covered == 0 || after == 0 {
		t.Fatalf("the backup at checkpoint %d was not taken under load: %d receipts while it ran, %d covered, %d after; want each > 0", cp.Size, during, covered, after)
	}

	// Restore into a new data dir. The backup carries no signing key; the
	// operator copies it, the members file and the certificates.
	dirB := filepath.Join(work, "b")
	if err := os.MkdirAll(dirB, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"log.key", "members.json", "tls", "keys"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(dirA, p), filepath.Join(dirB, p)).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", p, err, out)
		}
	}
	out, code := runDaemonCmd(t, "restore", "--from", backup, "--data-dir", dirB)
	if code != 0 || !strings.Contains(out, "accept the restored pair") {
		t.Fatalf("chemledgerd restore into a new data dir: exit %d, want 0 and the start-up checks accepting it:\n%s", code, out)
	}
	restored := startDaemon(t, dirB, "--secure")
	d = restored
	reader := clientOf(dirB, "US-CBP", pki.RoleAnalyst)
	got, _, err := reader.Checkpoint(t.Context())
	if err != nil || got.Size != cp.Size || !bytes.Equal(got.Root, cp.Root) {
		t.Fatalf("restored log's checkpoint %+v (%v), want the backup's %+v", got, err, cp)
	}
	for _, a := range acked {
		if a.index >= cp.Size {
			continue
		}
		e, err := reader.Get(t.Context(), a.index)
		if err != nil {
			t.Fatalf("restored entry %d (%s): %v", a.index, a.id, err)
		}
		if !bytes.Equal(e.GetLeaf(), a.env) {
			t.Errorf("restored entry %d is not the envelope acknowledged for %s:\n got %q\nwant %q", a.index, a.id, e.GetLeaf(), a.env)
		}
	}
	if _, err := reader.Get(t.Context(), cp.Size); status.Code(err) != codes.NotFound {
		t.Errorf("restored entry %d, beyond the backup's checkpoint: %v, want NotFound", cp.Size, err)
	}
	restored.stop(t)

	// Restore refuses a backup whose bytes do not match its manifest, one
	// cut short (no manifest), and a data dir that holds a log; without
	// log.key it restores and says the key is the operator's to copy.
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(raw)
	flipped[4096+512] ^= 0x01 // in ledger.db's bytes, past its tar header and first page
	cut := raw[:len(raw)/2]
	for _, tc := range []struct {
		name, want string
		file       []byte
		dir        string
	}{
		{"a flipped byte", "SHA-256", flipped, filepath.Join(work, "c")},
		{"a backup cut short", "not a complete backup", cut, filepath.Join(work, "d")},
		{"over a restored log of the same size", "already holds a log", raw, dirB},
	} {
		f := filepath.Join(work, "variant.backup")
		if err := os.WriteFile(f, tc.file, 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := runDaemonCmd(t, "restore", "--from", f, "--data-dir", tc.dir)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("restore of %s: exit %d, want a refusal with %q:\n%s", tc.name, code, tc.want, out)
		}
		if tc.dir != dirB {
			if _, err := os.Stat(filepath.Join(tc.dir, "ledger.db")); err == nil {
				t.Errorf("restore of %s left a ledger.db in %s", tc.name, tc.dir)
			}
		}
	}
	noKey := filepath.Join(work, "e")
	if out, code := runDaemonCmd(t, "restore", "--from", backup, "--data-dir", noKey); code != 0 || !strings.Contains(out, "holds no log.key") {
		t.Errorf("restore into a data dir without log.key: exit %d, want 0 and a word that the key must be copied:\n%s", code, out)
	}

	// The older backup over the newer log it came from.
	out, code = runDaemonCmd(t, "restore", "--from", backup, "--data-dir", dirA)
	if code == 0 || !strings.Contains(out, "holds a newer log than the backup") || !strings.Contains(out, "move") {
		t.Errorf("restore of the older backup over the newer log: exit %d, want a refusal naming the newer log and saying to move it aside:\n%s", code, out)
	}
	// Only ledger.db replaced by the backup's (older) one: the audit trail
	// has seen later checkpoints, and the start refuses.
	b, err := os.ReadFile(filepath.Join(dirB, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirA, "ledger.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := daemonCmd(t, dirA, filepath.Join(dirA, "ready.json"), "--secure")
	if code := refused.waitExit(t, refuseTimeout); code == 0 || !strings.Contains(refused.stderr.String(), "was rolled back") {
		t.Errorf("start with only ledger.db replaced by the backup's: exit %d, want a refusal saying the ledger was rolled back:\n%s", code, refused.stderr)
	}
}

// nil2 calls f and fails the test on its error.
func nil2[T any](tb testing.TB, f func() (T, error)) T {
	tb.Helper()
	v, err := f()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if c, ok := any(v).(io.Closer); ok {
			c.Close()
		}
	})
	return v
}

// runDaemonCmd runs chemledgerd with args in the clean environment and
// returns its combined output and exit code.
func runDaemonCmd(tb testing.TB, args ...string) (string, int) {
	tb.Helper()
	cmd := exec.Command(daemonBin, args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	tb.Fatalf("run chemledgerd %v: %v", args, err)
	return "", -1
}

// readBackupManifest reads manifest.json out of a backup file.
func readBackupManifest(tb testing.TB, path string) *chemledgerv1.BackupManifest {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			tb.Fatalf("backup %s: no manifest.json (%v)", path, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		var m chemledgerv1.BackupManifest
		if err := protojson.Unmarshal(b, &m); err != nil {
			tb.Fatalf("backup manifest %s: %v", b, err)
		}
		return &m
	}
}

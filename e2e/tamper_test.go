package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/chemledger/chemledger/internal/datadir"
)

// refuseTimeout bounds how long a daemon may take to refuse a bad store.
const refuseTimeout = 5 * time.Second

// TestTamperedStoreRefusesToStart changes one byte of what the log stored,
// in the raw bbolt file of a stopped service, and checks that the service
// then refuses to start and says what it found.
func TestTamperedStoreRefusesToStart(t *testing.T) {
	pristine := t.TempDir()
	d := startDaemon(t, pristine)
	if r := d.runCLI(t, "submit", examplesFile); r.code != 0 {
		t.Fatalf("submit %s: exit %d\nstdout:\n%s\nstderr:\n%s", examplesFile, r.code, r.stdout, r.stderr)
	}
	c := d.dial(t)
	var leaves [][]byte
	for i := range uint64(33) {
		e, err := c.Get(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, e.GetLeaf())
	}
	d.stop(t)

	// The stored hash of the perfect subtree over entries 10 and 11: tree
	// node (level 1, index 5).
	node := rfc6962.DefaultHasher.HashChildren(rfc6962.DefaultHasher.HashLeaf(leaves[10]), rfc6962.DefaultHasher.HashLeaf(leaves[11]))
	checkpointText := []byte(devOrigin(t, pristine) + "\n33\n")

	tests := []struct {
		name string
		// find is the stored bytes to change; every copy in the file gets
		// the byte at offset flipped.
		find   []byte
		offset int
		args   []string
		want   []string // in the daemon's output
	}{
		{
			name: "entry bytes", find: leaves[12], offset: len(leaves[12]) / 2,
			want: []string{"tamper", "entry 12 does not hash to the leaf hash"},
		},
		{
			name: "tree node hash", find: node, offset: 7,
			want: []string{"tamper", "tree node (level 1, index 5) does not match"},
		},
		{
			name: "checkpoint note", find: checkpointText, offset: len(checkpointText),
			want: []string{"tamper", "checkpoint does not verify with the log key"},
		},
		{
			name: "checkpoint note, state check only", find: checkpointText, offset: len(checkpointText),
			args: []string{"--verify-on-start=state"},
			want: []string{"tamper", "checkpoint does not verify with the log key"},
		},
		{
			name: "checkpoint size", find: checkpointText, offset: len(checkpointText) - 2,
			args: []string{"--verify-on-start=state"},
			want: []string{"tamper", "checkpoint does not verify with the log key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDataDir(t, pristine)
			db := datadir.Layout{Dir: dir}.DB()
			n := flipEvery(t, db, tt.find, tt.offset)
			if n == 0 {
				t.Fatalf("%q is nowhere in %s", tt.find, db)
			}
			t.Logf("flipped a byte in %d copies", n)
			d := daemonCmd(t, dir, filepath.Join(dir, "ready.json"), tt.args...)
			code := d.waitExit(t, refuseTimeout)
			out := d.stderr.String()
			if code == 0 {
				t.Errorf("chemledgerd %v on a store with a flipped byte exited 0, want non-zero; output:\n%s", tt.args, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("chemledgerd %v output:\n%s\nwant it to contain %q", tt.args, out, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "ready.json")); err == nil {
				t.Error("chemledgerd wrote its ready file: it listened on a tampered store")
			}
		})
	}

	// The untouched copy still starts: the cases above failed for the flip.
	dir := copyDataDir(t, pristine)
	startDaemon(t, dir).stop(t)
}

// flipEvery flips the low bit of the byte at offset in every occurrence of
// find in the file (bbolt may keep stale copies in free pages) and returns
// how many it changed.
func flipEvery(tb testing.TB, path string, find []byte, offset int) int {
	tb.Helper()
	if offset < 0 || offset > len(find) {
		tb.Fatalf("offset %d outside %d bytes", offset, len(find))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for i := 0; ; {
		j := bytes.Index(b[i:], find)
		if j < 0 {
			break
		}
		at := i + j + offset
		if at >= len(b) {
			tb.Fatalf("offset %d past the end of %s", offset, path)
		}
		b[at] ^= 1
		n++
		i += j + len(find)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return n
}

// copyDataDir copies a stopped service's data dir.
func copyDataDir(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "data")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		tb.Fatal(err)
	}
	os.Remove(filepath.Join(dst, "ready.json"))
	return dst
}

// TestSecondProcessFailsFast starts a second service on the data dir of a
// running one: within a second it must give up, saying the store is locked
// by another chemledgerd, and leave the first serving.
func TestSecondProcessFailsFast(t *testing.T) {
	const within = time.Second
	dir := t.TempDir()
	first := startDaemon(t, dir)

	start := time.Now()
	second := daemonCmd(t, dir, filepath.Join(dir, "second-ready.json"))
	code := second.waitExit(t, 5*within) // a hung process fails here; the bound is below
	took := time.Since(start)
	out := second.stderr.String()
	t.Logf("the second chemledgerd exited with status %d after %v: %s", code, took.Round(time.Millisecond), strings.TrimSpace(out))
	if took > within {
		t.Errorf("second chemledgerd on a data dir in use took %v to exit, want at most %v", took, within)
	}
	for _, want := range []string{"locked", "another chemledgerd"} {
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("second chemledgerd on a data dir in use: exit %d, output:\n%s\nwant a non-zero exit and a message containing %q", code, out, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "second-ready.json")); err == nil {
		t.Error("the second chemledgerd wrote its ready file")
	}
	if _, _, err := first.dial(t).Checkpoint(t.Context()); err != nil {
		t.Errorf("the first chemledgerd stopped answering: %v; its output:\n%s", err, first.stderr)
	}
}

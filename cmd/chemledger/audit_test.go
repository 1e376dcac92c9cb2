package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/server/servertest"
)

// TestAuditVerifyKeptRotation runs "audit verify --since F --out F" as an
// auditor would from cron: the first time F does not exist, and the trail
// is checked from the start and F written; the next time F is checked and
// moved on. A --since file that is missing without --out is an error.
func TestAuditVerifyKeptRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a service")
	}
	in, err := servertest.Start(t.TempDir(), servertest.Options{Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(); err != nil {
			t.Error(err)
		}
	})
	cli := func(args ...string) result {
		return run(t, nil, nil, append([]string{"--server", in.GRPCAddr, "--data-dir", in.Dir, "--timeout", "30s"}, args...)...)
	}
	if r := cli("checkpoint"); r.err != nil { // a read, so the trail is not empty
		t.Fatal(r.err)
	}
	kept := filepath.Join(t.TempDir(), "kept.json")
	readKept := func() client.AuditHead {
		t.Helper()
		var h client.AuditHead
		b, err := os.ReadFile(kept)
		if err != nil || json.Unmarshal(b, &h) != nil || len(h.Hash) == 0 {
			t.Fatalf("kept record %s = %q, %v; want a sequence number and hash", kept, b, err)
		}
		return h
	}
	const firstUse = "no kept record yet; checked from the start"

	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for success
		wantStderr bool   // the first-use note
	}{
		{"first use: no kept file yet", []string{"audit", "verify", "--since", kept, "--out", kept}, "", true},
		{"next use: the kept file is checked", []string{"audit", "verify", "--since", kept, "--out", kept}, "", false},
		{"missing --since without --out", []string{"audit", "verify", "--since", kept + ".missing"}, "no kept record there", false},
	}
	prevSeq := int64(-1) // none kept yet
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(tc.args...)
			if tc.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
					t.Fatalf("%v: err %v, want one saying %q", tc.args, r.err, tc.wantErr)
				}
				return
			}
			if r.err != nil || !strings.Contains(r.stdout, "audit trail verified") {
				t.Fatalf("%v: %v; stdout %q stderr %q", tc.args, r.err, r.stdout, r.stderr)
			}
			if got := strings.Contains(r.stderr, firstUse); got != tc.wantStderr {
				t.Errorf("%v: stderr %q; first-use note present = %v, want %v", tc.args, r.stderr, got, tc.wantStderr)
			}
			h := readKept()
			if int64(h.Seq) <= prevSeq {
				t.Errorf("%v: kept seq %d, want it past the previous %d (the reads between are recorded)", tc.args, h.Seq, prevSeq)
			}
			prevSeq = int64(h.Seq)
		})
	}
}

package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/pki"
	"github.com/chemledger/chemledger/storage"
)

// TestEndToEndTLS runs the real binary as the README does (--dev: mutual
// TLS with the development PKI it creates) and drives it with the CLI,
// which finds the member certificates in the data directory by itself:
// each line is submitted over a connection of the member that signed it,
// flags are read as an analyst, proofs verified as an auditor. Plaintext,
// a missing certificate and a certificate of the wrong role are refused.
func TestEndToEndTLS(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--secure")
	if d.plaintext {
		t.Fatal("the daemon started in plaintext")
	}

	receipts := submitCLI(t, d, examplesFile)
	if n := len(readExamples(t)); len(receipts) != n {
		t.Fatalf("%d receipts for %d examples", len(receipts), n)
	}
	if r := d.runCLI(t, "verify", "inclusion", "3"); r.code != 0 || !strings.Contains(r.stdout, "is included") {
		t.Errorf("verify inclusion as an auditor: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := d.runCLI(t, "flags", "list")
		if r.code == 0 && strings.Contains(r.stdout, "R1 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flags list as an analyst: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The reads above were audited; an auditor checks the trail's chain.
	if r := d.runCLI(t, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "audit trail verified") {
		t.Errorf("audit verify as an auditor: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	tl := datadir.Layout{Dir: dir}.TLS()
	if r := d.runCLI(t, "--as", "MX-ANAM", "--cert", tl.ClientCert("MX-ANAM", pki.RoleAnalyst), "--key", tl.ClientKey("MX-ANAM", pki.RoleAnalyst), "audit", "verify"); r.code == 0 {
		t.Errorf("audit verify as an analyst succeeded: %q", r.stdout)
	}

	// Refusals: a plaintext client, the CLI told to use a submitter's
	// certificate for an analyst's read, and HTTP without a certificate.
	if r := d.runCLI(t, "--insecure", "checkpoint"); r.code == 0 {
		t.Errorf("a plaintext client read the checkpoint: %q", r.stdout)
	}
	r := d.runCLI(t, "--cert", tl.ClientCert("MX-ANAM", pki.RoleSubmitter), "--key", tl.ClientKey("MX-ANAM", pki.RoleSubmitter), "flags", "list")
	if r.code == 0 || !strings.Contains(r.stderr, "PermissionDenied") {
		t.Errorf("flags list with a submitter's certificate: exit %d, stderr %q; want PermissionDenied", r.code, r.stderr)
	}
	caOnly, err := pki.LoadClient(tl.CA(), tl.ClientCert("US-CBP", pki.RoleAnalyst), tl.ClientKey("US-CBP", pki.RoleAnalyst))
	if err != nil {
		t.Fatal(err)
	}
	caOnly.Certificates = nil
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: caOnly}}
	if resp, err := hc.Get("https://" + d.httpAddr + "/v1/checkpoint"); err == nil {
		resp.Body.Close()
		t.Errorf("HTTPS without a client certificate: %s, want the handshake refused", resp.Status)
	}
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + d.httpAddr + "/v1/checkpoint"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP read the checkpoint")
		}
	}
}

// TestAuditTrailCutBack: the audit trail's chain cannot show a removed
// tail. A trail cut back while the service was down is refused at start,
// because the ledger recorded the trail's head. Someone who also rewrites
// that anchor in ledger.db (as a rollback of the whole data dir would) gets
// a service that starts, and an auditor who kept the last record of each
// check still finds the cut.
func TestAuditTrailCutBack(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--secure")
	for range 3 {
		if r := d.runCLI(t, "checkpoint"); r.code != 0 {
			t.Fatalf("checkpoint: %q", r.stderr)
		}
	}
	// As the README says: the same file kept and checked, from the first
	// check on, when it does not exist yet.
	kept := filepath.Join(t.TempDir(), "audit-head.json")
	if r := d.runCLI(t, "audit", "verify", "--since", kept, "--out", kept); r.code != 0 || !strings.Contains(r.stderr, "no kept record yet; checked from the start") {
		t.Fatalf("audit verify --since %[1]s --out %[1]s, first use: exit %d, stderr %q; want success and the first-use note", kept, r.code, r.stderr)
	}
	var head struct{ Seq uint64 }
	if b, err := os.ReadFile(kept); err != nil || json.Unmarshal(b, &head) != nil || head.Seq == 0 {
		t.Fatalf("kept head %s: %v", kept, err)
	}
	if r := d.runCLI(t, "audit", "verify", "--since", kept); r.code != 0 {
		t.Fatalf("audit verify --since, trail intact: exit %d, %q", r.code, r.stderr)
	}
	d.stop(t)

	// Cut the trail back to before the kept record.
	db, err := bolt.Open(datadir.Layout{Dir: dir}.Audit(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("records"))
		c := b.Cursor()
		for k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, head.Seq-1)); k != nil; k, _ = c.Seek(binary.BigEndian.AppendUint64(nil, head.Seq-1)) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	startRefused(t, dir, true, []string{"audit.db was rolled back", fmt.Sprintf("it ends at record %d", head.Seq-2), "the ledger recorded its head at record"}, "--secure")

	// Move the ledger's anchor back to the cut trail's last record.
	a, err := audit.Open(audit.DefaultOptions(datadir.Layout{Dir: dir}.Audit()))
	if err != nil {
		t.Fatal(err)
	}
	last, _, err := a.Last()
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(datadir.Layout{Dir: dir}.DB(), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	anchor := storage.AuditHead{Seq: last.Seq}
	copy(anchor.Hash[:], last.Hash)
	if err := st.Update(func(tx *storage.WriteTx) error { return tx.PutAuditHead(anchor) }); err != nil {
		t.Fatal(err)
	}
	st.Close()

	d = startDaemon(t, dir, "--secure")
	r := d.runCLI(t, "audit", "verify", "--since", kept)
	if r.code == 0 || !strings.Contains(r.stderr, "cut back") {
		t.Fatalf("audit verify --since after the trail was cut back: exit %d, stdout %q, stderr %q; want a failure saying so", r.code, r.stdout, r.stderr)
	}
	if r := d.runCLI(t, "audit", "verify"); r.code != 0 {
		t.Errorf("the cut-back trail's own chain should still verify (that is why the head is kept): %q", r.stderr)
	}
}

// Package cosigntest is an in-process C2SP tlog-witness for tests and
// benchmarks: add-checkpoint with the spec's answers (409 with the
// witness's size, 422 for a bad proof, 403 for a bad log signature), state
// in memory, cosignature/v1 signatures from transparency-dev/formats. The
// tests that matter also run against litewitness, an implementation nobody
// here wrote; this one is for speed and for failures on demand.
package cosigntest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/checkpoint"
)

// Witness is a running test witness.
type Witness struct {
	Name string
	// VKey is its cosignature/v1 verifier key, for a policy.
	VKey   string
	URL    string
	server *httptest.Server
	signer note.Signer
	logV   note.Verifier

	mu   sync.Mutex
	size uint64
	root []byte
	// Down makes it answer 503, as if it were unreachable.
	Down atomic.Bool
	// Requests counts add-checkpoint requests.
	Requests atomic.Int64
}

// Start starts a witness named name on 127.0.0.1 that knows the log with
// verifier logV.
func Start(name string, logV note.Verifier) (*Witness, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, err
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, err
	}
	cvkey, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		return nil, err
	}
	w := &Witness{Name: name, VKey: cvkey, signer: s, logV: logV}
	w.server = httptest.NewServer(http.HandlerFunc(w.serve))
	w.URL = w.server.URL
	return w, nil
}

// Close stops it.
func (w *Witness) Close() { w.server.Close() }

// Size is the size it last cosigned.
func (w *Witness) Size() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// PolicyLine is its "witness" line for a policy.
func (w *Witness) PolicyLine(name string) string {
	return fmt.Sprintf("witness %s %s %s\n", name, w.VKey, w.URL)
}

func (w *Witness) serve(rw http.ResponseWriter, r *http.Request) {
	w.Requests.Add(1)
	if w.Down.Load() {
		http.Error(rw, "down", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/add-checkpoint" {
		http.NotFound(rw, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	head, signed, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		http.Error(rw, "no blank line", http.StatusBadRequest)
		return
	}
	lines := strings.Split(string(head), "\n")
	old, err := strconv.ParseUint(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if err != nil || !strings.HasPrefix(lines[0], "old ") {
		http.Error(rw, "bad old line", http.StatusBadRequest)
		return
	}
	var hashes [][]byte
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != 32 {
			http.Error(rw, "bad proof line", http.StatusBadRequest)
			return
		}
		hashes = append(hashes, h)
	}
	n, err := note.Open(signed, note.VerifierList(w.logV))
	if err != nil {
		http.Error(rw, "log signature: "+err.Error(), http.StatusForbidden)
		return
	}
	cp, err := checkpoint.Parse(n.Text)
	if err != nil || cp.Origin != w.logV.Name() {
		http.Error(rw, "bad checkpoint", http.StatusForbidden)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old > cp.Size {
		http.Error(rw, "old size beyond the checkpoint", http.StatusBadRequest)
		return
	}
	if old != w.size {
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", w.size)
		return
	}
	if old > 0 {
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old, cp.Size, hashes, w.root, cp.Root); err != nil {
			http.Error(rw, "consistency: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
	}
	w.size, w.root = cp.Size, cp.Root
	out, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	_, sigs, _ := bytes.Cut(out, []byte("\n\n"))
	rw.Write(sigs)
}

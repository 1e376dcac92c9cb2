package main

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/casefile"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/witness"
)

// exportedCase exports the examples' R1 flag with the CLI and returns the
// zip's path, its bytes and the file holding the log's key.
func exportedCase(t *testing.T) (zipPath string, b []byte, keyFile string) {
	t.Helper()
	l := newExamplesLog(t)
	list := l.run(t, "flags", "list", "--filter", r1Filter)
	if list.err != nil {
		t.Fatal(list.err)
	}
	id := flagID(t, list.stdout)
	dir := t.TempDir()
	zipPath = filepath.Join(dir, "case.zip")
	r := l.run(t, "case", "export", id, "--out", zipPath)
	if r.err != nil {
		t.Fatalf("case export: %v\n%s", r.err, r.stdout)
	}
	keyFile = filepath.Join(dir, "log.pub")
	if err := os.WriteFile(keyFile, []byte(l.in.VerifierKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	return zipPath, b, keyFile
}

// TestCaseExportVerifyOffline exports a case, then verifies it in a child
// process with no network at all (a fresh network namespace, unshare -n),
// where any dial would fail; without unshare it verifies in-process after
// the export's server is gone from the picture (no --server given).
func TestCaseExportVerifyOffline(t *testing.T) {
	zipPath, b, keyFile := exportedCase(t)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	for _, want := range []string{"case.json", "flag.json", "checkpoint.txt", "members.json", "README.md", "case.pdf"} {
		if !contains(names, want) {
			t.Errorf("the zip lacks %s (has %v)", want, names)
		}
	}
	unshare, err := exec.LookPath("unshare")
	if err == nil && exec.Command(unshare, "-n", "true").Run() == nil {
		cmd := exec.Command(unshare, "-n", os.Args[0], "-test.run=^TestCaseVerifyChild$")
		cmd.Env = append(os.Environ(), "CHEMLEDGER_CASE_ZIP="+zipPath, "CHEMLEDGER_CASE_KEY="+keyFile)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verified offline") {
			t.Fatalf("verify under unshare -n: %v\n%s", err, out)
		}
		t.Logf("verified in a process without a network:\n%s", out)
		return
	}
	t.Log("unshare -n unavailable: verifying in-process; the verifier is given no server address")
	r := run(t, nil, nil, "--log-key", keyFile, "case", "verify", zipPath)
	if r.err != nil || !strings.Contains(r.stdout, "verified offline") {
		t.Fatalf("case verify: %v\n%s", r.err, r.stdout)
	}
}

// TestCaseVerifyChild is the verifier run by TestCaseExportVerifyOffline in
// a network namespace of its own; it does nothing when run directly.
func TestCaseVerifyChild(t *testing.T) {
	zipPath, key := os.Getenv("CHEMLEDGER_CASE_ZIP"), os.Getenv("CHEMLEDGER_CASE_KEY")
	if zipPath == "" {
		t.Skip("run by TestCaseExportVerifyOffline")
	}
	r := run(t, nil, nil, "--log-key", key, "case", "verify", zipPath)
	os.Stdout.WriteString(r.stdout)
	if r.err != nil {
		t.Fatal(r.err)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// unzip reads every file of a case zip.
func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func rezip(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reseal rewrites case.json's SHA-256 of name after a deliberate change, so
// that the check under test is the one that must refuse it, not the sums.
func reseal(t *testing.T, files map[string][]byte, edit func(m *casefile.Manifest)) {
	t.Helper()
	var m casefile.Manifest
	if err := json.Unmarshal(files[casefile.ManifestName], &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&m)
	}
	m.Files = m.Files[:0]
	var names []string
	for n := range files {
		if n != casefile.ManifestName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		m.Files = append(m.Files, casefile.ManifestFile{Name: n, SHA256: hex.EncodeToString(sum[:])})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files[casefile.ManifestName] = b
}

func logPolicy(t *testing.T, keyFile string) casefile.Policy {
	t.Helper()
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(kb)))
	if err != nil {
		t.Fatal(err)
	}
	return casefile.Policy{Log: v}
}

// TestCaseTampering: the exported case verifies; every sampled single-bit
// change to every file, a removed evidence entry, swapped proofs and a
// checkpoint short of its cosignature quorum are each refused, naming what
// is wrong; and a checkpoint with the quorum's cosignature is accepted.
func TestCaseTampering(t *testing.T) {
	_, b, keyFile := exportedCase(t)
	pol := logPolicy(t, keyFile)
	dp := detect.DefaultPolicy()
	rep, err := casefile.Verify(b, pol, dp)
	if err != nil {
		t.Fatalf("the untouched case is refused: %v", err)
	}
	if !rep.Rederived {
		t.Fatal("the flag was not re-derived")
	}
	files := unzip(t, b)

	t.Run("bit flips", func(t *testing.T) {
		flips := 0
		for name, content := range files {
			// 24 bits per file, spread over it, first and last byte included.
			for k := 0; k < 24; k++ {
				pos := (len(content) - 1) * k / 23
				bit := byte(1) << (k % 8)
				changed := map[string][]byte{}
				for n, c := range files {
					changed[n] = c
				}
				c := bytes.Clone(content)
				c[pos] ^= bit
				changed[name] = c
				_, err := casefile.Verify(rezip(t, changed), pol, dp)
				flips++
				if err == nil {
					t.Errorf("%s: bit %d of byte %d flipped, and the case still verifies", name, k%8, pos)
					continue
				}
				if name != casefile.ManifestName && !strings.Contains(err.Error(), name) {
					t.Errorf("%s: bit flipped at byte %d: refusal %q does not name the file", name, pos, err)
				}
			}
		}
		t.Logf("%d single-bit changes over %d files, all refused", flips, len(files))
	})

	var m casefile.Manifest
	if err := json.Unmarshal(files[casefile.ManifestName], &m); err != nil {
		t.Fatal(err)
	}
	var evidence []casefile.ManifestEntry
	for _, e := range m.Entries {
		if e.Role == casefile.RoleEvidence {
			evidence = append(evidence, e)
		}
	}
	if len(evidence) < 2 {
		t.Fatalf("want at least two evidence entries, have %d", len(evidence))
	}
	copyFiles := func() map[string][]byte {
		c := map[string][]byte{}
		for n, v := range files {
			c[n] = v
		}
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(f map[string][]byte)
		want string
		pol  *casefile.Policy
	}{
		{"removed evidence entry", func(f map[string][]byte) {
			gone := evidence[0]
			delete(f, gone.Envelope)
			delete(f, gone.Proof)
			reseal(t, f, func(m *casefile.Manifest) {
				var keep []casefile.ManifestEntry
				for _, e := range m.Entries {
					if e.Index != gone.Index {
						keep = append(keep, e)
					}
				}
				m.Entries = keep
			})
		}, "evidence of flag", nil},
		{"swapped proofs", func(f map[string][]byte) {
			a, b := evidence[0], evidence[1]
			var pa, pb casefile.Proof
			json.Unmarshal(f[a.Proof], &pa)
			json.Unmarshal(f[b.Proof], &pb)
			pa.Hashes, pb.Hashes = pb.Hashes, pa.Hashes
			f[a.Proof], _ = json.Marshal(pa)
			f[b.Proof], _ = json.Marshal(pb)
			reseal(t, f, nil)
		}, "inclusion of leaf", nil},
		{"checkpoint without quorum", func(f map[string][]byte) {}, "0 of the 1 required witness cosignatures", func() *casefile.Policy {
			_, priv, _ := ed25519.GenerateKey(nil)
			w, err := casefile.NewCosignatureVerifier(casefile.CosignatureVKey("witness.example/w1", priv.Public().(ed25519.PublicKey)))
			if err != nil {
				t.Fatal(err)
			}
			p := pol
			p.Witnesses, p.Quorum = []note.Verifier{w}, 1
			return &p
		}()},
		{"checkpoint without the quorum of a witness policy file", func(f map[string][]byte) {}, "no witness of the policy cosigned it", func() *casefile.Policy {
			_, priv, _ := ed25519.GenerateKey(nil)
			wp, err := witness.ParsePolicy([]byte("witness w1 " + casefile.CosignatureVKey("witness.example/w1", priv.Public().(ed25519.PublicKey)) + " https://w1.example/\nquorum w1\n"))
			if err != nil {
				t.Fatal(err)
			}
			p := pol
			p.Witnessed = wp.Check
			return &p
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := copyFiles()
			tc.edit(f)
			p := pol
			if tc.pol != nil {
				p = *tc.pol
			}
			_, err := casefile.Verify(rezip(t, f), p, dp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refusal %v, want one saying %q", err, tc.want)
			}
			t.Log(err)
		})
	}

	t.Run("checkpoint with quorum", func(t *testing.T) {
		_, priv, _ := ed25519.GenerateKey(nil)
		name := "witness.example/w1"
		w, err := casefile.NewCosignatureVerifier(casefile.CosignatureVKey(name, priv.Public().(ed25519.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		f := copyFiles()
		cp := f[casefile.CheckpointName]
		body, _, _ := bytes.Cut(cp, []byte("\n\n"))
		f[casefile.CheckpointName] = append(bytes.Clone(cp), casefile.Cosign(name, priv, string(body)+"\n", 1_800_000_000)...)
		reseal(t, f, nil)
		p := pol
		p.Witnesses, p.Quorum = []note.Verifier{w}, 1
		if _, err := casefile.Verify(rezip(t, f), p, dp); err != nil {
			t.Fatalf("cosigned checkpoint refused: %v", err)
		}
		// The same cosignature over another body does not count.
		other := append(bytes.Clone(cp), casefile.Cosign(name, priv, "other\n1\nAAAA\n", 1_800_000_000)...)
		f[casefile.CheckpointName] = other
		reseal(t, f, nil)
		if _, err := casefile.Verify(rezip(t, f), p, dp); err == nil {
			t.Fatal("a cosignature over another checkpoint counted towards the quorum")
		}
	})
}

// TestCasePDFRenders writes the exported case.pdf and its pages as PNG
// (pdftoppm) to CHEMLEDGER_ARTEFACTS for a person to look at.
func TestCasePDFRenders(t *testing.T) {
	_, b, _ := exportedCase(t)
	pdf := unzip(t, b)[casefile.PDFName]
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatal("case.pdf is not a PDF")
	}
	dir := os.Getenv("CHEMLEDGER_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "case.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	tool, err := exec.LookPath("pdftoppm")
	if err != nil {
		t.Skip("pdftoppm (poppler-utils) not installed; case.pdf written to", path)
	}
	if out, err := exec.Command(tool, "-png", "-r", "70", path, filepath.Join(dir, "case")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "case-*.png"))
	if len(pages) == 0 {
		t.Fatal("no page rendered")
	}
	t.Logf("%d pages in %s", len(pages), dir)
}

// TestCaseEveryExampleFlag exports and verifies every flag the examples
// raise, and reports for each whether the detector re-derived it from the
// bundle and what the bundle cannot show for its rule.
func TestCaseEveryExampleFlag(t *testing.T) {
	l := newExamplesLog(t)
	flags := l.in.Deriver.Snapshot()
	if len(flags) == 0 {
		t.Fatal("the examples raise no flags")
	}
	kf := filepath.Join(t.TempDir(), "log.pub")
	if err := os.WriteFile(kf, []byte(l.in.VerifierKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pol := logPolicy(t, kf)
	for _, f := range flags {
		t.Run(f.ID, func(t *testing.T) {
			zp := filepath.Join(t.TempDir(), "case.zip")
			if r := l.run(t, "case", "export", f.ID, "--out", zp); r.err != nil {
				t.Fatalf("export: %v", r.err)
			}
			b, err := os.ReadFile(zp)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := casefile.Verify(b, pol, detect.DefaultPolicy())
			if err != nil {
				t.Fatalf("%s (%s): %v", f.ID, f.RuleID, err)
			}
			t.Logf("%s: %d entries, re-derived %v; %s", f.RuleID, rep.Entries, rep.Rederived, rep.Caveat)
		})
	}
}

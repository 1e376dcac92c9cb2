// Package casefile writes and checks case files: one zip with a flag, every
// log entry it rests on as the exact signed DSSE bytes with its inclusion
// proof, the dispositions, the registry entries in force, the member keys
// the log started with, and a checkpoint covering all of it — so that a
// court, a member or a journalist can check the finding offline, with this
// package or with golang.org/x/mod/sumdb/note and sumdb/tlog alone (the
// README in the zip says how).
//
// It must not dial anything: Verify reads only the bundle and the policy it
// is given.
package casefile

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Roles of a bundled entry.
const (
	RoleEvidence    = "evidence"
	RoleDisposition = "disposition"
	RoleRegistry    = "registry"
	// RoleContext marks an entry bundled for what the detector needs to
	// know of the log around the evidence: the log's first shipment event,
	// which fixes the log's start (R21 raises nothing while the log is
	// younger than its minimum history).
	RoleContext = "context"
)

// Case is what a case file holds, before it is written.
type Case struct {
	Flag *chemledgerv1.Flag
	// Checkpoint is the signed note text, unchanged.
	Checkpoint []byte
	// LogKey is the log's note verifier key.
	LogKey string
	// Founders are the member keys of the members file the log started
	// with: they are in no entry, so they are the bundle's trust root (every
	// member holds the same file). Later keys and revocations are registry
	// entries, bundled with their proofs.
	Founders []Founder
	Entries  []Entry
	// PDF, when set, is the human-readable case.pdf.
	PDF []byte
}

// Founder is one key of the founding members file.
type Founder struct {
	Member  string `json:"member"`
	Country string `json:"country"`
	KeyID   string `json:"key_id"`
	Ed25519 []byte `json:"ed25519"`
}

// Entry is one bundled log entry.
type Entry struct {
	Index uint64
	Role  string
	// Member is the signer. IntegratedTime is the log's metadata, covered
	// by no hash, so it is not written into the zip (a change to it could
	// not be detected); the verifier takes every time from the signed
	// payloads.
	Member         string
	IntegratedTime time.Time
	// Leaf is the exact stored envelope bytes.
	Leaf []byte
	// Proof is the inclusion proof at the checkpoint's size.
	Proof [][]byte
}

// Manifest is case.json.
type Manifest struct {
	Format     string          `json:"format"`
	FlagID     string          `json:"flag_id"`
	Checkpoint string          `json:"checkpoint"`
	TreeSize   uint64          `json:"tree_size"`
	LogKey     string          `json:"log_key"`
	Files      []ManifestFile  `json:"files"`
	Entries    []ManifestEntry `json:"entries"`
}

// ManifestFile is one file of the zip and its SHA-256 (hex).
type ManifestFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// ManifestEntry describes one bundled entry.
type ManifestEntry struct {
	Index uint64 `json:"index"`
	Role  string `json:"role"`
	// Member is the signer; Verify checks it against the signature.
	Member string `json:"member"`
	// LeafHash is the RFC 6962 leaf hash, hex.
	LeafHash string `json:"leaf_hash"`
	Envelope string `json:"envelope"`
	Proof    string `json:"proof"`
}

// Proof is a proofs/<index>.json file: hashes in base64, as tlog prints
// them.
type Proof struct {
	Index    uint64   `json:"index"`
	TreeSize uint64   `json:"tree_size"`
	Hashes   []string `json:"hashes"`
}

// FormatV1 names this layout.
const FormatV1 = "chemledger-case/v1"

// File names inside the zip.
const (
	ManifestName   = "case.json"
	FlagName       = "flag.json"
	CheckpointName = "checkpoint.txt"
	FoundersName   = "members.json"
	ReadmeName     = "README.md"
	PDFName        = "case.pdf"
)

// zipTime is every file's modification time, so the same case gives the
// same bytes.
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Write writes c as a zip.
func Write(w io.Writer, c *Case) error {
	cp, err := checkpoint.Parse(noteBody(c.Checkpoint))
	if err != nil {
		return fmt.Errorf("case checkpoint: %w", err)
	}
	files := map[string][]byte{}
	fj, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(c.Flag)
	if err != nil {
		return fmt.Errorf("encode flag: %w", err)
	}
	files[FlagName] = fj
	files[CheckpointName] = c.Checkpoint
	if files[FoundersName], err = json.MarshalIndent(c.Founders, "", "  "); err != nil {
		return err
	}
	files[ReadmeName] = []byte(readme)
	if c.PDF != nil {
		files[PDFName] = c.PDF
	}
	m := Manifest{Format: FormatV1, FlagID: c.Flag.GetId(), Checkpoint: CheckpointName, TreeSize: cp.Size, LogKey: c.LogKey}
	es := slices.Clone(c.Entries)
	sort.Slice(es, func(i, j int) bool { return es[i].Index < es[j].Index })
	for _, e := range es {
		env, prf := fmt.Sprintf("entries/%d.dsse", e.Index), fmt.Sprintf("proofs/%d.json", e.Index)
		p := Proof{Index: e.Index, TreeSize: cp.Size}
		for _, h := range e.Proof {
			p.Hashes = append(p.Hashes, base64.StdEncoding.EncodeToString(h))
		}
		files[env] = e.Leaf
		if files[prf], err = json.MarshalIndent(p, "", "  "); err != nil {
			return err
		}
		m.Entries = append(m.Entries, ManifestEntry{Index: e.Index, Role: e.Role, Member: e.Member,
			LeafHash: hex.EncodeToString(checkpoint.LeafHash(e.Leaf)), Envelope: env, Proof: prf})
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		m.Files = append(m.Files, ManifestFile{Name: n, SHA256: hex.EncodeToString(sum[:])})
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	put := func(name string, b []byte) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime})
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		return err
	}
	if err := put(ManifestName, mj); err != nil {
		return err
	}
	for _, n := range names {
		if err := put(n, files[n]); err != nil {
			return fmt.Errorf("write %s: %w", n, err)
		}
	}
	return zw.Close()
}

// noteBody is the signed text of a note: everything before the blank line.
func noteBody(n []byte) string {
	if i := bytes.Index(n, []byte("\n\n")); i >= 0 {
		return string(n[:i+1])
	}
	return string(n)
}

// ErrCase marks a case file that does not check.
var ErrCase = errors.New("case file refused")

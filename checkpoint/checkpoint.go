// Package checkpoint formats, signs, opens and checks the log's checkpoints:
// C2SP tlog-checkpoint signed notes (origin, tree size, base64 RFC 6962 root)
// signed with Ed25519 through golang.org/x/mod/sumdb/note. It also verifies
// inclusion and consistency proofs against a checkpoint, so that the server,
// the client library and the CLI all check proofs the same way, with the
// same RFC 6962 verifier every transparency log uses.
//
// It must not fetch anything or keep state: it takes bytes and keys and answers
// yes or no, so a member's verifier can use it offline.
package checkpoint

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is the content of a checkpoint note.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Body returns the note text of c: the three lines the signature covers.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
}

// Sign returns the signed note text of c.
func Sign(c Checkpoint, signer note.Signer) ([]byte, error) {
	if err := checkOrigin(c.Origin); err != nil {
		return nil, err
	}
	if len(c.Root) != rfc6962.DefaultHasher.Size() {
		return nil, fmt.Errorf("sign checkpoint: root hash is %d bytes, want %d", len(c.Root), rfc6962.DefaultHasher.Size())
	}
	return note.Sign(&note.Note{Text: c.Body()}, signer)
}

// ErrMalformed marks a checkpoint whose text is not a tlog checkpoint.
var ErrMalformed = errors.New("malformed checkpoint")

// Open verifies the note signature with verifier and parses the checkpoint;
// the origin must equal origin. Extension lines are refused: this log signs
// none, and an unauditable line is better refused than ignored.
func Open(signed []byte, origin string, verifier note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	c, err := Parse(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != origin {
		return Checkpoint{}, fmt.Errorf("%w: origin %q, want %q", ErrMalformed, c.Origin, origin)
	}
	return c, nil
}

// Parse reads the body of a checkpoint note without checking signatures.
func Parse(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, fmt.Errorf("%w: does not end in a newline", ErrMalformed)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 3 {
		return Checkpoint{}, fmt.Errorf("%w: %d lines, want origin, size and root hash", ErrMalformed, len(lines))
	}
	if err := checkOrigin(lines[0]); err != nil {
		return Checkpoint{}, err
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: size %q is not a decimal number", ErrMalformed, lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != rfc6962.DefaultHasher.Size() {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q is not 32 bytes of base64", ErrMalformed, lines[2])
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

func checkOrigin(origin string) error {
	if origin == "" || strings.ContainsAny(origin, "\n\r") || strings.TrimSpace(origin) != origin {
		return fmt.Errorf("%w: origin %q must be one non-empty line without surrounding space", ErrMalformed, origin)
	}
	return nil
}

// LeafHash is the RFC 6962 hash of a leaf: SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) []byte {
	return rfc6962.DefaultHasher.HashLeaf(leaf)
}

// VerifyInclusion checks that leafHash is at index in the tree c commits to.
func (c Checkpoint) VerifyInclusion(index uint64, leafHash []byte, hashes [][]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, c.Size, leafHash, hashes, c.Root); err != nil {
		return fmt.Errorf("inclusion of leaf %d in tree of size %d: %w", index, c.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree older commits to is a prefix of the
// tree c commits to. An older checkpoint of the same size must have the same
// root; one of a larger size can never be consistent.
func (c Checkpoint) VerifyConsistency(older Checkpoint, hashes [][]byte) error {
	if older.Origin != c.Origin {
		return fmt.Errorf("consistency: checkpoints of different logs (%q, %q)", older.Origin, c.Origin)
	}
	if older.Size > c.Size {
		return fmt.Errorf("consistency: the kept checkpoint (size %d) is larger than the new one (size %d): the log shrank", older.Size, c.Size)
	}
	if older.Size == 0 {
		// Every tree extends the empty tree; RFC 6962 defines no proof.
		if len(hashes) != 0 {
			return errors.New("consistency from the empty tree takes no proof hashes")
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, c.Size, hashes, older.Root, c.Root); err != nil {
		return fmt.Errorf("consistency of tree %d with tree %d: %w", older.Size, c.Size, err)
	}
	return nil
}

// Equal reports whether two checkpoints commit to the same tree.
func (c Checkpoint) Equal(o Checkpoint) bool {
	return c.Origin == o.Origin && c.Size == o.Size && bytes.Equal(c.Root, o.Root)
}

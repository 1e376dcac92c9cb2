package casefile

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/checkpoint"
)

// Policy is what a checkpoint must carry to be believed: the log's own
// signature, at least Quorum cosignatures from Witnesses, and, when set,
// the quorum of a witness policy file (Witnessed, the witness package's
// check).
type Policy struct {
	// Log is the log's note verifier.
	Log note.Verifier
	// Witnesses are the witnesses' cosignature/v1 verifiers.
	Witnesses []note.Verifier
	// Quorum is how many distinct witnesses must have cosigned.
	Quorum int
	// Witnessed, when set, is a witness policy's quorum check (groups and
	// thresholds, as the service and the clients enforce it: the
	// witness package's Policy.Check), applied to the note after the log's
	// signature.
	Witnessed func(signedNote []byte) error
}

// VerifyNote opens a checkpoint note under p: the log's signature must
// verify for the log's origin and at least p.Quorum of p.Witnesses must
// have cosigned the same body. Signatures by keys p does not know are
// ignored, as C2SP says.
func VerifyNote(text []byte, p Policy) (checkpoint.Checkpoint, error) {
	if p.Log == nil {
		return checkpoint.Checkpoint{}, errors.New("checkpoint: no log key to verify it with")
	}
	cp, err := checkpoint.Open(text, p.Log.Name(), p.Log)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if p.Witnessed != nil {
		if err := p.Witnessed(text); err != nil {
			return checkpoint.Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
		}
	}
	if p.Quorum == 0 {
		return cp, nil
	}
	vs := append([]note.Verifier{p.Log}, p.Witnesses...)
	n, err := note.Open(text, note.VerifierList(vs...))
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	got := map[string]bool{}
	for _, s := range n.Sigs {
		for _, w := range p.Witnesses {
			if s.Name == w.Name() && s.Hash == w.KeyHash() {
				got[w.Name()] = true
			}
		}
	}
	if len(got) < p.Quorum {
		var names []string
		for _, w := range p.Witnesses {
			names = append(names, w.Name())
		}
		return checkpoint.Checkpoint{}, fmt.Errorf("checkpoint: %d of the %d required witness cosignatures (witnesses %s)", len(got), p.Quorum, strings.Join(names, ", "))
	}
	return cp, nil
}

// algCosignatureV1 is the C2SP signed-note key type of cosignature/v1.
const algCosignatureV1 = 0x04

// NewCosignatureVerifier parses a witness's vkey ("name+hash+base64 of
// 0x04 ‖ Ed25519 public key") into a verifier of C2SP cosignature/v1
// signatures: transparency-dev/formats' verifier, the one the witness
// package and the service use. It first holds the vkey to the key type and
// the key hash, which that verifier does not check (it also takes a plain
// Ed25519 key): a case file names its witnesses exactly.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || name == "" {
		return nil, fmt.Errorf("witness key %q: want name+hash+key", vkey)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("witness key %q: not a cosignature/v1 Ed25519 key", vkey)
	}
	h, err := strconv.ParseUint(hash, 16, 32)
	if err != nil || len(hash) != 8 || uint32(h) != keyHash(name, key) {
		return nil, fmt.Errorf("witness key %q: key hash does not match the name and key", vkey)
	}
	return fnote.NewVerifierForCosignatureV1(vkey)
}

// CosignatureVKey is the vkey of a witness's Ed25519 key, for tests and
// witness set-up.
func CosignatureVKey(name string, pub ed25519.PublicKey) string {
	key := append([]byte{algCosignatureV1}, pub...)
	return fmt.Sprintf("%s+%08x+%s", name, keyHash(name, key), base64.StdEncoding.EncodeToString(key))
}

// Cosign returns the cosignature/v1 note signature line of body at the
// given time.
func Cosign(name string, priv ed25519.PrivateKey, body string, seconds uint64) string {
	key := append([]byte{algCosignatureV1}, priv.Public().(ed25519.PublicKey)...)
	sig := ed25519.Sign(priv, cosignedMessage(body, seconds))
	b := binary.BigEndian.AppendUint32(nil, keyHash(name, key))
	b = binary.BigEndian.AppendUint64(b, seconds)
	b = append(b, sig...)
	return "— " + name + " " + base64.StdEncoding.EncodeToString(b) + "\n"
}

func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func cosignedMessage(body string, seconds uint64) []byte {
	return []byte(fmt.Sprintf("cosignature/v1\ntime %d\n%s", seconds, body))
}

// Package datadir knows the layout of the service's data directory, and in
// development mode fills it with what a newcomer needs to run the service
// and the CLI at once: the log's checkpoint signing key, a members file and
// demo member agencies with their private keys.
//
//	<dir>/ledger.db          the bbolt database (package storage)
//	<dir>/audit.db           the audit trail (package audit)
//	<dir>/log.key            the log's note signing key (secret)
//	<dir>/log.pub            the log's note verifier key
//	<dir>/members.json       members and their public keys
//	<dir>/keys/<MEMBER>.json a member's private key (dev mode only)
//
// It must not open the ledger or the audit trail; storage and audit do.
package datadir

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/internal/atomicfile"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
)

// Layout names the files of a data directory.
type Layout struct{ Dir string }

// DB is the bbolt database file.
func (l Layout) DB() string { return filepath.Join(l.Dir, "ledger.db") }

// LogKey is the log's note signing key.
func (l Layout) LogKey() string { return filepath.Join(l.Dir, "log.key") }

// LogPub is the log's note verifier key.
func (l Layout) LogPub() string { return filepath.Join(l.Dir, "log.pub") }

// Members is the members file.
func (l Layout) Members() string { return filepath.Join(l.Dir, "members.json") }

// TLS is the directory of the development PKI: CA, server, gateway and
// client certificates (pki.Layout).
func (l Layout) TLS() pki.Layout { return pki.Layout{Dir: filepath.Join(l.Dir, "tls")} }

// Audit is the audit trail's database.
func (l Layout) Audit() string { return filepath.Join(l.Dir, "audit.db") }

// MemberKey is a member's private key file.
func (l Layout) MemberKey(member string) string {
	return filepath.Join(l.Dir, "keys", member+".json")
}

// DevOriginPrefix begins the checkpoint origin of every development log;
// NewDevOrigin adds a random name, so that two dev logs never look like
// one log to a witness (same origin, different trees: a fork).
const DevOriginPrefix = "chemledger.dev/"

// NewDevOrigin is a fresh development origin, chemledger.dev/ and 8 random
// hex digits. It is chosen once, when the dev log's key is created, and
// kept in the key's name from then on.
func NewDevOrigin() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("choose a dev origin: %w", err)
	}
	return DevOriginPrefix + hex.EncodeToString(b[:]), nil
}

// DemoMember is a member that dev mode creates.
type DemoMember struct{ ID, Name, Country string }

// DemoMembers are the member agencies dev mode creates, one per country the
// examples report from.
var DemoMembers = []DemoMember{
	{"US-CBP", "U.S. Customs and Border Protection", "US"},
	{"MX-ANAM", "Agencia Nacional de Aduanas de México", "MX"},
	{"IN-NCB", "Narcotics Control Bureau, India", "IN"},
	{"CN-GACC", "General Administration of Customs of China", "CN"},
	{"NL-DOUANE", "Douane Nederland", "NL"},
	{"PA-ANA", "Autoridad Nacional de Aduanas de Panamá", "PA"},
	{"DE-ZOLL", "Generalzolldirektion, Germany", "DE"},
}

// EnsureDev creates whatever of the development setup is missing and leaves
// what exists alone, so restarting in dev mode never replaces keys the log
// already signed with.
func EnsureDev(l Layout) error {
	if err := os.MkdirAll(filepath.Join(l.Dir, "keys"), 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := ensureLogKey(l, NewDevOrigin); err != nil {
		return err
	}
	ids := make([]string, len(DemoMembers))
	for i, d := range DemoMembers {
		ids[i] = d.ID
	}
	if err := pki.EnsureDev(l.TLS(), ids); err != nil {
		return fmt.Errorf("development certificates: %w", err)
	}
	if _, err := os.Stat(l.Members()); err == nil {
		return grantDevRoles(l)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var ms []members.Member
	for _, d := range DemoMembers {
		// A key left by an interrupted earlier run is kept, not replaced.
		p, err := members.ReadPrivateKey(l.MemberKey(d.ID))
		if errors.Is(err, fs.ErrNotExist) {
			if p, err = members.GenerateKey(d.ID); err == nil {
				err = members.WritePrivateKey(l.MemberKey(d.ID), p)
			}
		}
		if err != nil {
			return fmt.Errorf("demo key of %s: %w", d.ID, err)
		}
		// Every demo member holds every role; each role has its own
		// certificate, and the CLI picks the one a command needs.
		ms = append(ms, members.Member{ID: d.ID, Name: d.Name, Country: d.Country, Keys: []members.PublicKey{p.Public()}, Roles: pki.Roles})
	}
	if err := members.Write(l.Members(), ms); err != nil {
		return fmt.Errorf("write members file: %w", err)
	}
	return nil
}

// grantDevRoles gives every member every role in a development members
// file written before members had roles (none has any), so that a data
// directory from an earlier version keeps working under mutual TLS. A file
// in which any member has a role is left as it is.
func grantDevRoles(l Layout) error {
	reg, err := members.Load(l.Members())
	if err != nil {
		return err
	}
	ms := reg.Members()
	for _, m := range ms {
		if len(m.Roles) > 0 {
			return nil
		}
	}
	for i := range ms {
		ms[i].Roles = pki.Roles
	}
	return members.Write(l.Members(), ms)
}

// State is which of a log's files a data directory holds. A file counts
// only if it has bytes: bbolt turns an empty file into a new database, so
// a ledger.db truncated to zero is as missing as a deleted one.
type State struct {
	LogKey, Ledger, Audit bool
}

// Empty reports whether the directory holds nothing of a log: no signing
// key, no ledger, no audit trail. Only then may a new log be created in it.
func (s State) Empty() bool { return !s.LogKey && !s.Ledger && !s.Audit }

// Inspect reports which of the log's files l holds.
func Inspect(l Layout) (State, error) {
	var st State
	for _, f := range []struct {
		path string
		dst  *bool
	}{{l.LogKey(), &st.LogKey}, {l.DB(), &st.Ledger}, {l.Audit(), &st.Audit}} {
		fi, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return State{}, err
		default:
			*f.dst = fi.Size() > 0
		}
	}
	return st, nil
}

// CreateLogKey writes a note signing key as the log's key, with its
// verifier key, refusing to replace either.
func CreateLogKey(l Layout, skey string) error {
	if _, err := note.NewSigner(skey); err != nil {
		return fmt.Errorf("log signing key: %w", err)
	}
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := atomicfile.Create(l.LogKey(), []byte(skey+"\n"), 0o600); err != nil {
		return fmt.Errorf("write log key: %w", err)
	}
	vkey, err := verifierKeyOf(l)
	if err != nil {
		return err
	}
	return atomicfile.Create(l.LogPub(), []byte(vkey+"\n"), 0o644)
}

// ensureLogKey creates the log's signing key when there is none, and
// rewrites the verifier key from it when that is missing (a crash between
// the two writes), so the two never disagree.
func ensureLogKey(l Layout, newOrigin func() (string, error)) error {
	switch _, err := os.Stat(l.LogKey()); {
	case errors.Is(err, fs.ErrNotExist):
		origin, err := newOrigin()
		if err != nil {
			return err
		}
		skey, _, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return err
		}
		if err := atomicfile.Create(l.LogKey(), []byte(skey+"\n"), 0o600); err != nil {
			return fmt.Errorf("write log key: %w", err)
		}
	case err != nil:
		return fmt.Errorf("log key: %w", err)
	}
	if _, err := os.Stat(l.LogPub()); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("log verifier key: %w", err)
	}
	vkey, err := verifierKeyOf(l)
	if err != nil {
		return err
	}
	return atomicfile.Create(l.LogPub(), []byte(vkey+"\n"), 0o644)
}

// verifierKeyOf derives the note verifier key from the signing key
// ("PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 and the Ed25519 seed>").
func verifierKeyOf(l Layout) (string, error) {
	b, err := os.ReadFile(l.LogKey())
	if err != nil {
		return "", err
	}
	parts := strings.SplitN(strings.TrimSpace(string(b)), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", fmt.Errorf("log key %s is not a note signing key", l.LogKey())
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", fmt.Errorf("log key %s is not an Ed25519 note signing key", l.LogKey())
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// ReadLogSigner reads the log's note signing key.
func ReadLogSigner(l Layout) (note.Signer, error) {
	b, err := os.ReadFile(l.LogKey())
	if err != nil {
		return nil, fmt.Errorf("read log signing key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("log signing key %s: %w", l.LogKey(), err)
	}
	return s, nil
}

// ReadLogVerifierKey reads the log's note verifier key text.
func ReadLogVerifierKey(l Layout) (string, error) {
	b, err := os.ReadFile(l.LogPub())
	if err != nil {
		return "", fmt.Errorf("read log verifier key: %w", err)
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("log verifier key %s: %w", l.LogPub(), err)
	}
	return vkey, nil
}

// LogKeys are the log's checkpoint keys as the service needs them.
type LogKeys struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the verifier key text, as published to clients.
	VerifierKey string
}

// ReadLogKeys reads the log's signing and verifier keys.
func ReadLogKeys(l Layout) (LogKeys, error) {
	signer, err := ReadLogSigner(l)
	if err != nil {
		return LogKeys{}, err
	}
	vkey, err := ReadLogVerifierKey(l)
	if err != nil {
		return LogKeys{}, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return LogKeys{}, err
	}
	return LogKeys{Signer: signer, Verifier: verifier, VerifierKey: vkey}, nil
}

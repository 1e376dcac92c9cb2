// Package members reads the members file: the coalition's member agencies and
// the Ed25519 public keys they sign envelopes with. It also reads and writes
// a member's private key file, which stays with the member (dev mode keeps
// the demo members' keys in the data directory).
//
// It must not decide what a role allows (authz does) or check certificates
// (pki does).
package members

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/atomicfile"
	"github.com/chemledger/chemledger/pki"
)

// File is the JSON shape of a members file.
type File struct {
	Members []Member `json:"members"`
}

// Member is one member agency.
type Member struct {
	// ID names the member, for example "US-CBP" or "MX-ANAM".
	ID string `json:"id"`
	// Name is the agency's name.
	Name string `json:"name"`
	// Country is the ISO 3166-1 alpha-2 code of the member state.
	Country string `json:"country"`
	// Keys are the member's signing keys, current and past.
	Keys []PublicKey `json:"keys"`
	// Roles are what the member's agency may do: "submitter", "analyst",
	// "auditor", "admin". Registry entries in the log grant and withdraw
	// roles after the file seeds them.
	Roles []string `json:"roles,omitempty"`
	// Status is whether the member may act; a members file lists active
	// members only, so it is empty there and means active.
	Status Status `json:"-"`
	// History lists every change to the member, oldest first: the members
	// file, then the registry entries of the log.
	History []Change `json:"-"`
}

// Status is whether a member may act.
type Status int

// Statuses. The zero value is active, so members from a file are.
const (
	Active Status = iota
	Suspended
	Removed
)

func (s Status) String() string { return [...]string{"active", "suspended", "removed"}[s] }

// Change is one change to a member, for its history.
type Change struct {
	// Index is the log index of the registry entry; Genesis marks the
	// members file the log started from, which has none.
	Index   uint64
	Genesis bool
	// What says what changed, in words.
	What string
}

// CertificateIdentity is the URI a member's client certificates carry.
func CertificateIdentity(member string) string { return pki.IdentityURIPrefix + member }

// PublicKey is one signing key of a member.
type PublicKey struct {
	ID      string `json:"id"`
	Ed25519 []byte `json:"ed25519"`
	Revoked bool   `json:"revoked,omitempty"`
}

// Registry answers which member holds a key and what roles it has. It
// starts from the members file and follows the member registry entries of
// the log (keys added and revoked, roles granted and withdrawn,
// certificates revoked), so it is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	members []Member
	byKey   map[string]envelope.Key
	// revokedCerts are certificate serials (lower-case hex) refused.
	revokedCerts map[string]bool
}

// Load reads and checks a members file.
func Load(path string) (*Registry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read members file: %w", err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("members file %s: %w", path, err)
	}
	return r, nil
}

// Parse reads a members file's bytes.
func Parse(b []byte) (*Registry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return New(f.Members)
}

// New builds a registry, refusing duplicate members or keys and malformed
// keys.
func New(ms []Member) (*Registry, error) {
	r := &Registry{byKey: map[string]envelope.Key{}, revokedCerts: map[string]bool{}}
	seen := map[string]bool{}
	for _, m := range ms {
		if !pki.MemberIDPattern.MatchString(m.ID) {
			return nil, fmt.Errorf("member id %q: want a country code, a dash and an agency name in capitals, like US-CBP", m.ID)
		}
		if seen[m.ID] {
			return nil, fmt.Errorf("member %q listed twice", m.ID)
		}
		seen[m.ID] = true
		for _, role := range m.Roles {
			if !slices.Contains(pki.Roles, role) {
				return nil, fmt.Errorf("member %q: role %q is not one of %v", m.ID, role, pki.Roles)
			}
		}
		for _, k := range m.Keys {
			if k.ID == "" || len(k.ID) > envelope.MaxKeyIDLen {
				return nil, fmt.Errorf("member %q: key id %q must be 1 to %d bytes", m.ID, k.ID, envelope.MaxKeyIDLen)
			}
			if len(k.Ed25519) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("member %q key %q: %d bytes, an Ed25519 public key is %d", m.ID, k.ID, len(k.Ed25519), ed25519.PublicKeySize)
			}
			if _, dup := r.byKey[k.ID]; dup {
				return nil, fmt.Errorf("key id %q listed twice", k.ID)
			}
			r.byKey[k.ID] = envelope.Key{ID: k.ID, MemberID: m.ID, Public: ed25519.PublicKey(k.Ed25519), Revoked: k.Revoked}
		}
		m.Status = Active
		m.History = []Change{{Genesis: true, What: "listed in the members file with roles " + rolesText(m.Roles)}}
		r.members = append(r.members, m)
	}
	return r, nil
}

// Key finds a key by id.
func (r *Registry) Key(keyID string) (envelope.Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.byKey[keyID]
	return k, ok
}

// Members returns the members, sorted by id. They are copies: changing
// one changes nothing in the registry.
func (r *Registry) Members() []Member {
	r.mu.RLock()
	out := make([]Member, len(r.members))
	for i, m := range r.members {
		out[i] = m.clone()
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Member finds a member by id, as a copy.
func (r *Registry) Member(id string) (Member, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i := r.index(id)
	if i < 0 {
		return Member{}, false
	}
	return r.members[i].clone(), true
}

func (m Member) clone() Member {
	m.Keys = slices.Clone(m.Keys)
	m.Roles = slices.Clone(m.Roles)
	m.History = slices.Clone(m.History)
	return m
}

// Try runs change on a copy of the registry and returns its error: whether
// the change would apply, without applying it. The sequencer asks it just
// before a member change gets an index.
func (r *Registry) Try(change func(*Registry) error) error {
	r.mu.RLock()
	c := &Registry{byKey: maps.Clone(r.byKey), revokedCerts: maps.Clone(r.revokedCerts), members: make([]Member, len(r.members))}
	for i, m := range r.members {
		c.members[i] = m.clone()
	}
	r.mu.RUnlock()
	return change(c)
}

func (r *Registry) index(id string) int {
	return slices.IndexFunc(r.members, func(m Member) bool { return m.ID == id })
}

// Roles returns a member's roles, and whether it is a member.
func (r *Registry) Roles(member string) ([]string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i := r.index(member)
	if i < 0 {
		return nil, false
	}
	return slices.Clone(r.members[i].Roles), true
}

// CertificateRevoked reports whether a certificate serial is revoked.
func (r *Registry) CertificateRevoked(serial string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.revokedCerts[serial]
}

// Revoked reports whether a certificate's identity is revoked: the check
// a TLS handshake makes (pki.ServerConfig).
func (r *Registry) Revoked(id pki.Identity) bool { return r.CertificateRevoked(id.Serial) }

// ErrUnknownMember is returned for a change naming no member.
var ErrUnknownMember = errors.New("not a member")

// AddKey gives member a signing key (a rotation's first half).
func (r *Registry) AddKey(member, keyID string, pub ed25519.PublicKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.index(member)
	if i < 0 {
		return fmt.Errorf("member %q: %w", member, ErrUnknownMember)
	}
	if r.members[i].Status == Removed {
		return fmt.Errorf("%w: %s was removed", ErrNotApplicable, member)
	}
	if k, dup := r.byKey[keyID]; dup {
		if k.MemberID == member && k.Public.Equal(pub) {
			return nil // the same key again: a replayed change
		}
		return fmt.Errorf("key id %q is already in use", keyID)
	}
	r.byKey[keyID] = envelope.Key{ID: keyID, MemberID: member, Public: pub}
	r.members[i].Keys = append(r.members[i].Keys, PublicKey{ID: keyID, Ed25519: pub})
	return nil
}

// RevokeKey refuses a key from now on; what it signed before stays valid.
func (r *Registry) RevokeKey(member, keyID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.byKey[keyID]
	if !ok || k.MemberID != member {
		return fmt.Errorf("member %q has no key %q", member, keyID)
	}
	k.Revoked = true
	r.byKey[keyID] = k
	i := r.index(member)
	for j := range r.members[i].Keys {
		if r.members[i].Keys[j].ID == keyID {
			r.members[i].Keys[j].Revoked = true
		}
	}
	return nil
}

// SetRole grants (or, with withdrawn, withdraws) a role.
func (r *Registry) SetRole(member, role string, withdrawn bool) error {
	if !slices.Contains(pki.Roles, role) {
		return fmt.Errorf("role %q is not one of %v", role, pki.Roles)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.index(member)
	if i < 0 {
		return fmt.Errorf("member %q: %w", member, ErrUnknownMember)
	}
	if r.members[i].Status == Removed {
		return fmt.Errorf("%w: %s was removed", ErrNotApplicable, member)
	}
	roles := slices.DeleteFunc(slices.Clone(r.members[i].Roles), func(x string) bool { return x == role })
	if !withdrawn {
		roles = append(roles, role)
		slices.Sort(roles)
	}
	r.members[i].Roles = roles
	return nil
}

// RevokeCertificate refuses a client certificate by its serial.
func (r *Registry) RevokeCertificate(serial string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revokedCerts[serial] = true
}

// Write writes a members file.
func Write(path string, ms []Member) error {
	b, err := json.MarshalIndent(File{Members: ms}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// PrivateKey is the content of a member's private key file.
type PrivateKey struct {
	Member string `json:"member"`
	KeyID  string `json:"key_id"`
	// Seed is the 32-byte Ed25519 seed.
	Seed []byte `json:"ed25519_seed"`
}

// Signer returns the envelope signer for the key.
func (p PrivateKey) Signer() envelope.Signer {
	return envelope.Signer{KeyID: p.KeyID, Key: ed25519.NewKeyFromSeed(p.Seed)}
}

// Public returns the public half, as listed in a members file.
func (p PrivateKey) Public() PublicKey {
	return PublicKey{ID: p.KeyID, Ed25519: ed25519.NewKeyFromSeed(p.Seed).Public().(ed25519.PublicKey)}
}

// GenerateKey makes a new key for member. Its id is the member id and the
// first 8 hex digits of the SHA-256 of the public key, so ids never collide
// by accident and say whose key it is.
func GenerateKey(member string) (PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return PrivateKey{}, err
	}
	sum := sha256.Sum256(pub)
	return PrivateKey{Member: member, KeyID: member + "-" + hex.EncodeToString(sum[:4]), Seed: priv.Seed()}, nil
}

// ReadPrivateKey reads a private key file.
func ReadPrivateKey(path string) (PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("read key file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p PrivateKey
	if err := dec.Decode(&p); err != nil {
		return PrivateKey{}, fmt.Errorf("key file %s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return PrivateKey{}, fmt.Errorf("key file %s: data after the JSON object", path)
	}
	if len(p.Seed) != ed25519.SeedSize || p.KeyID == "" || p.Member == "" {
		return PrivateKey{}, fmt.Errorf("key file %s: want member, key_id and a %d-byte ed25519_seed", path, ed25519.SeedSize)
	}
	return p, nil
}

// ErrKeyExists means a private key file is already there; a key is never
// overwritten, since losing it loses the member's ability to sign.
var ErrKeyExists = errors.New("private key file already exists")

// WritePrivateKey writes a new private key file readable by its owner only.
func WritePrivateKey(path string, p PrivateKey) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrKeyExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// EncodePublic is the base64 form of a public key, as JSON carries it.
func EncodePublic(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

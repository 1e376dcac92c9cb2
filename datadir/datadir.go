// Package datadir knows the layout of the service's data directory, and in
// development mode fills it with what a newcomer needs to run the service
// and the CLI at once: the log's checkpoint signing key, a members file and
// demo member agencies with their private keys.
//
//	<dir>/ledger.db          the bbolt database (package storage)
//	<dir>/log.key            the log's note signing key (secret)
//	<dir>/log.pub            the log's note verifier key
//	<dir>/members.json       members and their public keys
//	<dir>/keys/<MEMBER>.json a member's private key (dev mode only)
package datadir

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/members"
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

// MemberKey is a member's private key file.
func (l Layout) MemberKey(member string) string {
	return filepath.Join(l.Dir, "keys", member+".json")
}

// DevOrigin is the checkpoint origin of a development log.
const DevOrigin = "chemledger.dev/log"

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
	if err := ensureLogKey(l, DevOrigin); err != nil {
		return err
	}
	if _, err := os.Stat(l.Members()); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var ms []members.Member
	for _, d := range DemoMembers {
		p, err := members.GenerateKey(d.ID)
		if err != nil {
			return err
		}
		if err := members.WritePrivateKey(l.MemberKey(d.ID), p); err != nil {
			return fmt.Errorf("write demo key: %w", err)
		}
		ms = append(ms, members.Member{ID: d.ID, Name: d.Name, Country: d.Country, Keys: []members.PublicKey{p.Public()}})
	}
	if err := members.Write(l.Members(), ms); err != nil {
		return fmt.Errorf("write members file: %w", err)
	}
	return nil
}

func ensureLogKey(l Layout, origin string) error {
	if _, err := os.Stat(l.LogKey()); err == nil {
		return nil
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.LogKey(), []byte(skey+"\n"), 0o600); err != nil {
		return fmt.Errorf("write log key: %w", err)
	}
	return os.WriteFile(l.LogPub(), []byte(vkey+"\n"), 0o644)
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

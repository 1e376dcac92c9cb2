package members

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chemledger/chemledger/internal/atomicfile"
)

// Home is a member agency's own directory, made by `chemledger member init`
// on the agency's machine. The two private keys in it never leave it: the
// admin is given request.json, the CA operator tls.csr.
//
//	signing-key.json  the Ed25519 key envelopes are signed with (secret)
//	tls.key           the TLS client key (secret)
//	tls.csr           the certificate signing request, for the CA operator
//	tls.pem           the client certificate the CA operator signed
//	request.json      the public half, for the admin's `member add`
type Home struct{ Dir string }

// SigningKey is the member's private signing key file.
func (h Home) SigningKey() string { return filepath.Join(h.Dir, "signing-key.json") }

// TLSKey is the member's private TLS key.
func (h Home) TLSKey() string { return filepath.Join(h.Dir, "tls.key") }

// CSR is the certificate signing request.
func (h Home) CSR() string { return filepath.Join(h.Dir, "tls.csr") }

// Cert is the client certificate, once signed.
func (h Home) Cert() string { return filepath.Join(h.Dir, "tls.pem") }

// Request is the join request for the admin.
func (h Home) Request() string { return filepath.Join(h.Dir, "request.json") }

// JoinRequest is what a joining member hands the admin: everything a
// Membership join entry says, and nothing secret.
type JoinRequest struct {
	ID                  string      `json:"id"`
	Country             string      `json:"country"`
	Agency              string      `json:"agency"`
	Keys                []PublicKey `json:"keys"`
	CertificateIdentity string      `json:"certificate_identity"`
}

// WriteJoinRequest writes r to path, never over an existing file.
func WriteJoinRequest(path string, r JoinRequest) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists; not replacing it", path)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// ReadJoinRequest reads a join request strictly.
func ReadJoinRequest(path string) (JoinRequest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return JoinRequest{}, fmt.Errorf("read join request: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r JoinRequest
	if err := dec.Decode(&r); err != nil {
		return JoinRequest{}, fmt.Errorf("join request %s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return JoinRequest{}, fmt.Errorf("join request %s: data after the JSON object", path)
	}
	return r, nil
}

package main

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/chemledger/chemledger/pki"
)

// defaultAs is the member reads authenticate as with the development
// certificates when --as is not given.
const defaultAs = "US-CBP"

// tlsConfig is the client side of mutual TLS: --cert and --key when given,
// else the development certificate of member (--as for reads) in the role
// the command needs. The CA is --ca, else the data directory's.
func (a *app) tlsConfig(member, role string) (*tls.Config, error) {
	dev := a.layout().TLS()
	ca := cmp.Or(a.ca, dev.CA())
	if a.cert != "" || a.key != "" {
		if a.cert == "" || a.key == "" {
			return nil, errors.New("--cert and --key go together")
		}
		return pki.LoadClient(ca, a.cert, a.key)
	}
	if a.keyringDir != "" && member != "" {
		home := keyringHome(a.keyringDir, member)
		return pki.LoadClient(cmp.Or(a.ca, filepath.Join(a.keyringDir, "ca.pem")), home.Cert(), home.TLSKey())
	}
	member = cmp.Or(member, a.as, defaultAs)
	cert := dev.ClientCert(member, role)
	if _, err := os.Stat(cert); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no client certificate: give --cert and --key (or CHEMLEDGER_CERT and CHEMLEDGER_KEY), or --data-dir of a development server (%s not found), or --insecure for a plaintext development server", cert)
	}
	return pki.LoadClient(ca, cert, dev.ClientKey(member, role))
}

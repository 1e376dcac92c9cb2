package main

import (
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/pki"
)

// demoAs is the member the demo reads flags and health as.
const demoAs = "US-CBP"

// demoConns connects the demo to the service as the demo members, each
// with its own development certificate (or in plaintext, when the service
// runs with --insecure-dev-plaintext): a member submits only as itself.
type demoConns struct {
	grpcAddr, httpAddr string
	layout             datadir.Layout
	vkey               string
	plaintext          bool
	clients            map[string]*client.Client
}

func newDemoConns(grpcAddr, httpAddr string, layout datadir.Layout, vkey string, plaintext bool) *demoConns {
	return &demoConns{grpcAddr: grpcAddr, httpAddr: httpAddr, layout: layout, vkey: vkey, plaintext: plaintext, clients: map[string]*client.Client{}}
}

// submitter is a verifying client authenticated as member's submitter.
func (d *demoConns) submitter(member string) (*client.Client, error) {
	if c, ok := d.clients[member]; ok {
		return c, nil
	}
	opts := []client.Option{client.WithLogVerifierKey(d.vkey)}
	if !d.plaintext {
		cfg, err := d.layout.TLS().Client(member, pki.RoleSubmitter)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	c, err := client.Dial(d.grpcAddr, opts...)
	if err != nil {
		return nil, err
	}
	d.clients[member] = c
	return c, nil
}

// analyst is a gRPC connection authenticated as demoAs's analyst.
func (d *demoConns) analyst() (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if !d.plaintext {
		cfg, err := d.layout.TLS().Client(demoAs, pki.RoleAnalyst)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	return grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(creds))
}

// http is an HTTP client of the gateway, and the base URL.
func (d *demoConns) http() (*http.Client, string, error) {
	if d.plaintext {
		return &http.Client{Timeout: 10 * time.Second}, "http://" + d.httpAddr, nil
	}
	cfg, err := d.layout.TLS().Client(demoAs, pki.RoleAnalyst)
	if err != nil {
		return nil, "", err
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, "https://" + d.httpAddr, nil
}

func (d *demoConns) close() {
	for _, c := range d.clients {
		c.Close()
	}
}

// curl is a curl command line that reads the gateway as demoAs's analyst,
// and the gateway's base URL.
func (d *demoConns) curl() (string, string) {
	if d.plaintext {
		return "curl -s", "http://" + d.httpAddr
	}
	tl := d.layout.TLS()
	return fmt.Sprintf("curl -s --cacert %s --cert %s --key %s", tl.CA(), tl.ClientCert(demoAs, pki.RoleAnalyst), tl.ClientKey(demoAs, pki.RoleAnalyst)),
		"https://" + d.httpAddr
}

package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/chemledger/chemledger/internal/atomicfile"
	"github.com/chemledger/chemledger/server"
)

// webhookConfig is the service's webhook delivery: its own Ed25519 key in
// DATA_DIR/webhook.key (created on first start: the checkpoint key signs
// checkpoints and nothing else, so no webhook body can ever be passed off
// as a checkpoint signature or the other way round), cursors in
// DATA_DIR/webhooks, and a client that trusts the system roots or, with
// --webhook-ca, that CA alone.
func webhookConfig(dataDir, caFile string) (server.WebhookConfig, error) {
	keyFile := filepath.Join(dataDir, "webhook.key")
	seed, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return server.WebhookConfig{}, err
		}
		if err := atomicfile.Create(keyFile, seed, 0o600); err != nil {
			return server.WebhookConfig{}, fmt.Errorf("create webhook key: %w", err)
		}
		seed, err = os.ReadFile(keyFile) // another start may have won the race
	}
	if err != nil {
		return server.WebhookConfig{}, fmt.Errorf("webhook key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return server.WebhookConfig{}, fmt.Errorf("webhook key %s: %d bytes, want an Ed25519 seed of %d", keyFile, len(seed), ed25519.SeedSize)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return server.WebhookConfig{}, fmt.Errorf("--webhook-ca: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return server.WebhookConfig{}, fmt.Errorf("--webhook-ca %s: no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = roots
	}
	return server.WebhookConfig{
		Key:    ed25519.NewKeyFromSeed(seed),
		Client: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		Dir:    filepath.Join(dataDir, "webhooks"),
	}, nil
}

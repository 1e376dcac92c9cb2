package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/chemledger/chemledger/internal/cosign"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/witness"
)

// startWitnessing reads the witness policy, refuses a log that a witness
// has seen larger than it is now (a rolled-back data directory), and starts
// feeding checkpoints to the witnesses. No policy file: no witnessing, and
// nil.
func startWitnessing(ctx context.Context, policyFile string, l *ledger.Ledger, log *slog.Logger) (*cosign.Feeder, error) {
	if policyFile == "" {
		return nil, nil
	}
	p, err := readWitnessPolicy(policyFile)
	if err != nil {
		return nil, err
	}
	cfg := cosign.DefaultConfig(p)
	cfg.Logger = log
	f, err := cosign.New(l, cfg)
	if err != nil {
		return nil, err
	}
	if err := f.CheckRollback(ctx); err != nil {
		return nil, fmt.Errorf("refusing to serve: %w", err)
	}
	go f.Run(ctx)
	log.Info("witnessing", "witnesses", len(p.Witnesses), "interval", cfg.Interval)
	return f, nil
}

func readWitnessPolicy(file string) (*witness.Policy, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read witness policy: %w", err)
	}
	p, err := witness.ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}

func readFileTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

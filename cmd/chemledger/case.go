package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/casefile"
	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/pki"
)

func newCaseCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "case",
		Short: "Export a flag as a self-contained case file, or verify one offline",
	}
	cmd.AddCommand(newCaseExportCmd(a), newCaseVerifyCmd(a))
	return cmd
}

func newCaseExportCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export FLAG_ID",
		Short: "Write one zip with the flag, its evidence as signed DSSE bytes with proofs, the dispositions, the registry and a checkpoint",
		Long: `Export writes FLAG_ID as a case zip: the flag (rule, version, thresholds,
explanation, status history), every evidence and disposition entry as the
exact signed DSSE bytes, every registry entry before the last of them (the
member keys, licences and watch-list entries the rule could have used) and
the log's first event (which fixes the log's age), each
with its inclusion proof at the latest checkpoint, the checkpoint note
unchanged, the member keys the log started with, case.json (every file's
SHA-256, every entry's index and leaf hash), a README on checking it with
standard tools, and case.pdf for people. Every proof is checked before it is
written. An analyst's call.`,
		Example: `  chemledger case export R1-0123456789ab --out case.zip`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			return a.withClient(cmd, "", pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
				cs, err := buildCase(ctx, c, args[0])
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := casefile.Write(&buf, cs); err != nil {
					return err
				}
				if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "case %s: %d entries at checkpoint %d written to %s\n", args[0], len(cs.Entries), mustSize(cs.Checkpoint), out)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the zip to write")
	return cmd
}

func mustSize(n []byte) uint64 {
	body, _, _ := bytes.Cut(n, []byte("\n\n"))
	cp, _ := checkpoint.Parse(string(body) + "\n")
	return cp.Size
}

func buildCase(ctx context.Context, c *client.Client, id string) (*casefile.Case, error) {
	d, err := c.Flag(ctx, id)
	if err != nil {
		return nil, err
	}
	cp, noteText, err := c.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	vkey, err := c.LogVerifierKey(ctx)
	if err != nil {
		return nil, err
	}
	f := d.GetFlag()
	want := map[uint64]string{}
	var last uint64
	for _, i := range f.GetEvidence() {
		want[i] = casefile.RoleEvidence
		last = max(last, i)
	}
	for _, h := range f.GetStatusHistory() {
		want[h.GetIndex()] = casefile.RoleDisposition
		last = max(last, h.GetIndex())
	}
	if open := f.GetJoins(); open != "" {
		// A shipment that joined a flagged pattern: the flag that opened the
		// pattern is part of its finding, so its evidence comes too.
		od, err := c.Flag(ctx, open)
		if err != nil {
			return nil, fmt.Errorf("flag %s joins %s: %w", id, open, err)
		}
		for _, i := range od.GetFlag().GetEvidence() {
			if _, ok := want[i]; !ok {
				want[i] = casefile.RoleContext
			}
			last = max(last, i)
		}
	}
	cs := &casefile.Case{Flag: f, Checkpoint: noteText, LogKey: vkey}
	added := map[string]bool{} // keys a registry entry brought in
	firstEvent := true
	for e, err := range c.List(ctx, "", 0) {
		if err != nil {
			return nil, err
		}
		if e.GetIndex() > last {
			break
		}
		role, ok := want[e.GetIndex()]
		switch {
		case ok:
		case e.GetRegistry() != nil:
			role = casefile.RoleRegistry
		case e.GetEvent() != nil && firstEvent:
			// The log's first event fixes the log's start, which R21 needs.
			role = casefile.RoleContext
		default:
			continue
		}
		if e.GetEvent() != nil {
			firstEvent = false
		}
		if mk := e.GetRegistry().GetMemberKey(); mk != nil && !mk.GetRevoked() {
			added[mk.GetKeyId()] = true
		}
		proof, err := c.InclusionProofAt(ctx, e.GetIndex(), cp, e.GetLeafHash())
		if err != nil {
			return nil, err
		}
		cs.Entries = append(cs.Entries, casefile.Entry{Index: e.GetIndex(), Role: role, Member: e.GetMember(),
			IntegratedTime: e.GetIntegratedTime().AsTime(), Leaf: e.GetLeaf(), Proof: proof})
		delete(want, e.GetIndex())
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("flag %s: entries %v not found in the log", id, slices.Sorted(mapKeys(want)))
	}
	ms, err := c.Members(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms.GetMembers() {
		for _, k := range m.GetKeys() {
			if !added[k.GetKeyId()] {
				cs.Founders = append(cs.Founders, casefile.Founder{Member: m.GetId(), Country: m.GetCountry(), KeyID: k.GetKeyId(), Ed25519: k.GetEd25519()})
			}
		}
	}
	cs.PDF, err = casefile.RenderPDF(cs)
	if err != nil {
		return nil, fmt.Errorf("case.pdf: %w", err)
	}
	return cs, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func newCaseVerifyCmd(a *app) *cobra.Command {
	var (
		witnesses []string
		quorum    int
	)
	cmd := &cobra.Command{
		Use:   "verify CASE.zip",
		Short: "Check a case file offline: files, checkpoint (and cosignature quorum), proofs, signatures, and the flag re-derived",
		Long: `Verify checks a case zip without any network: every file against case.json,
the checkpoint's signature by the key in the --log-key file (take it from
your own copy of the log, never from the zip), the quorum of --witness-policy
(the policy file the service and the clients use) and at least --quorum
cosignatures (C2SP cosignature/v1) by the --witness keys, every inclusion proof, every DSSE
signature against the member keys in force at its index, and that the
detector, run over the bundled entries in index order, raises the same flag.
It says where a rule rests on the absence of entries, which a bundle cannot
prove.`,
		Example: `  chemledger case verify case.zip --log-key log.pub`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if a.logKey == "" {
				return errors.New("--log-key is required: the file with the log's note verifier key, from your own copy")
			}
			kb, err := os.ReadFile(a.logKey)
			if err != nil {
				return fmt.Errorf("--log-key: %w", err)
			}
			v, err := note.NewVerifier(strings.TrimSpace(string(kb)))
			if err != nil {
				return fmt.Errorf("--log-key %s: %w", a.logKey, err)
			}
			p := casefile.Policy{Log: v, Quorum: quorum}
			for _, w := range witnesses {
				wv, err := casefile.NewCosignatureVerifier(w)
				if err != nil {
					return fmt.Errorf("--witness: %w", err)
				}
				p.Witnesses = append(p.Witnesses, wv)
			}
			if quorum > len(p.Witnesses) {
				return fmt.Errorf("--quorum %d with %d witnesses can never be met", quorum, len(p.Witnesses))
			}
			// --witness-policy (the same file the service and the clients
			// use): its quorum, groups and thresholds included.
			wp, err := a.readWitnessPolicy()
			if err != nil {
				return err
			}
			if wp != nil {
				p.Witnessed = wp.Check
			}
			start := time.Now()
			rep, err := casefile.Verify(b, p, detect.DefaultPolicy())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, s := range rep.Steps {
				fmt.Fprintln(w, "ok  ", s)
			}
			if rep.Caveat != "" {
				fmt.Fprintln(w, "note", rep.Caveat)
			}
			fmt.Fprintf(w, "case %s verified offline (%s)\n", rep.FlagID, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&witnesses, "witness", nil, "a witness's cosignature/v1 vkey (repeatable)")
	cmd.Flags().IntVar(&quorum, "quorum", 0, "how many of the --witness keys must have cosigned the checkpoint")
	return cmd
}

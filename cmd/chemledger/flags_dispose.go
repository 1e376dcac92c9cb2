package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

type disposeFlags struct {
	status, note    string
	member, keyFile string
	submissionID    string
}

func newFlagsDisposeCmd(a *app) *cobra.Command {
	var fl disposeFlags
	cmd := &cobra.Command{
		Use:   "dispose ID --status confirmed|dismissed|escalated --note TEXT (--member M | --signing-key FILE)",
		Short: "Record a decision on a flag as a signed log entry",
		Long: `Dispose signs a chemledger.v1.Disposition of flag ID with a member's key and
appends it to the log, then verifies the receipt: the log's signature on the
checkpoint and the proof that the entry is in its tree. The flag's status
follows once the detector has read the entry ("flags show ID").

The key is DATA_DIR/keys/MEMBER.json (as a dev-mode log writes them) for
--member, or the file given with --signing-key. The submission id is derived from
the member, flag, status and note, so running the same command again
records nothing new: the log answers with the original entry.`,
		Example: `  chemledger flags dispose R1-45bedf607194 --status escalated --note "70 kg unaccounted for" --member MX-ANAM`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return a.dispose(cmd, args[0], fl) },
	}
	f := cmd.Flags()
	f.StringVar(&fl.status, "status", "", "the decision: confirmed, dismissed or escalated (required)")
	f.StringVar(&fl.note, "note", "", "why, in the analyst's words (required)")
	f.StringVar(&fl.member, "member", "", "member whose key signs (required unless --signing-key)")
	f.StringVar(&fl.keyFile, "signing-key", "", "member private key file (default: DATA_DIR/keys/MEMBER.json)")
	f.StringVar(&fl.submissionID, "submission-id", "", "submission id (default: MEMBER:disp-ID-DIGEST, from the member, flag, status and note)")
	cmd.MarkFlagRequired("status")
	cmd.MarkFlagRequired("note")
	return cmd
}

var dispositionStatuses = map[string]chemledgerv1.DispositionStatus{
	"confirmed": chemledgerv1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED,
	"dismissed": chemledgerv1.DispositionStatus_DISPOSITION_STATUS_DISMISSED,
	"escalated": chemledgerv1.DispositionStatus_DISPOSITION_STATUS_ESCALATED,
}

func (a *app) dispose(cmd *cobra.Command, flagID string, fl disposeFlags) error {
	status, ok := dispositionStatuses[strings.ToLower(fl.status)]
	if !ok {
		return fmt.Errorf("--status %q: want confirmed, dismissed or escalated", fl.status)
	}
	if strings.TrimSpace(fl.note) == "" {
		return errors.New("--note is empty: say why")
	}
	if fl.member == "" && fl.keyFile == "" {
		return errors.New("--member or --signing-key is required: a disposition is signed by the analyst's member key")
	}
	keys, err := newKeyring(a.layout(), cmp.Or(fl.member, "auto"), fl.keyFile)
	if err != nil {
		return err
	}
	if keys.fixed == nil {
		return fmt.Errorf("--member %q: name the member whose key signs", fl.member)
	}
	key := *keys.fixed
	id := fl.submissionID
	if id == "" {
		id = dispositionID(key.Member, flagID, status, fl.note)
	}
	if !client.ValidSubmissionID(id) {
		return fmt.Errorf("--submission-id %q: want 1 to 128 letters, digits and \"-_.:\"", id)
	}

	return a.withClient(cmd, key.Member, pki.RoleAnalyst, func(ctx context.Context, c *client.Client) error {
		r, err := c.Dispose(ctx, flagID, status, fl.note, key.Signer(), id)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "flag %s %s by %s: entry %d (%s), inclusion verified at size %d\n",
			flagID, strings.TrimPrefix(status.String(), "DISPOSITION_STATUS_"), r.Member, r.Index, r.SubmissionID, r.Checkpoint.Size)
		return err
	})
}

// dispositionID names a disposition after what it says, so that a rerun
// reuses the id and the log answers with the original receipt.
func dispositionID(member, flagID string, status chemledgerv1.DispositionStatus, note string) string {
	sum := sha256.Sum256([]byte(flagID + "\x00" + status.String() + "\x00" + note))
	digest := hex.EncodeToString(sum[:8])
	if id := member + ":disp-" + flagID + "-" + digest; client.ValidSubmissionID(id) {
		return id
	}
	return member + ":disp-" + hex.EncodeToString(sum[:16])
}

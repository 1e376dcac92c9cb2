package casefile

import "golang.org/x/mod/sumdb/note"

func noteVerifier(vkey string) (note.Verifier, error) { return note.NewVerifier(vkey) }

// readme is the README.md inside every case zip: how to check it without
// chemledger.
const readme = "# Case file\n\n" +
	"This zip holds a flag raised by the chemledger detector and everything it rests on.\n" +
	"`chemledger case verify case.zip --log-key KEY` checks all of it offline. To check it\n" +
	"without chemledger, with the Go module golang.org/x/mod (sumdb/note, sumdb/tlog) or by hand:\n\n" +
	"1. **Files.** `case.json` lists every other file with its SHA-256:\n" +
	"   `sha256sum -c <(jq -r '.files[] | \"\\(.sha256)  \\(.name)\"' case.json)`.\n" +
	"2. **Checkpoint.** `checkpoint.txt` is a C2SP signed note, unchanged. Open it with\n" +
	"   `note.Open(text, note.VerifierList(v))` where `v, _ := note.NewVerifier(LOG_KEY)`, and take\n" +
	"   the log's key from your own copy, never from this zip (`case.json`'s `log_key` is only\n" +
	"   what the exporter said). Lines 2 and 3 of the body are the tree size and the base64 root.\n" +
	"   Witness cosignatures (C2SP cosignature/v1) are further signature lines on the same note.\n" +
	"3. **Entries.** For each of `case.json`'s `entries`: `entries/N.dsse` is the exact signed\n" +
	"   DSSE envelope stored at log index N. Its leaf hash is SHA-256(0x00 ‖ bytes) (RFC 6962;\n" +
	"   `tlog.RecordHash`), which must equal `leaf_hash`. `proofs/N.json` holds the inclusion\n" +
	"   proof at the checkpoint's size, hashes in base64: check it with\n" +
	"   `tlog.CheckRecord(proof, size, root, N, leafHash)` (or transparency-dev/merkle's\n" +
	"   `proof.VerifyInclusion`).\n" +
	"4. **Signatures.** Each envelope is DSSE: Ed25519 over PAE(payloadType, payload) =\n" +
	"   `\"DSSEv1\" SP len(type) SP type SP len(payload) SP payload`. The keys are those of\n" +
	"   `members.json` (the members file the log started with, which every member holds) and the\n" +
	"   member-key registry entries bundled here, in index order; a key revoked at index R signs\n" +
	"   nothing valid after R.\n" +
	"5. **The finding.** `flag.json` names the rule, its version, the policy version, the\n" +
	"   thresholds, the explanation and the evidence indexes. Re-running the detector over the\n" +
	"   bundled entries in index order must raise the same flag (chemledger does this). A bundle\n" +
	"   is a subset of the log: rules that rest on something *not* being in the log (R1A, R4, R5,\n" +
	"   R6, R21) are shown to follow from the evidence, not proven against the whole log; for those,\n" +
	"   recount from a full copy of the log.\n\n" +
	"The integrated times in `case.json` are the log's metadata, not covered by any hash; the\n" +
	"events' own times are inside the signed payloads.\n"

package casefile

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// maxFile bounds one file of a case zip when it is read.
const maxFile = 64 << 20

// Report is what Verify established.
type Report struct {
	FlagID     string
	RuleID     string
	Checkpoint checkpoint.Checkpoint
	Entries    int
	// Rederived says the detector, run over the bundled entries in index
	// order, raised the flag with the same id, rule, version and evidence.
	Rederived bool
	// Caveat says what re-deriving from a subset of the log cannot show,
	// for the flag's rule; empty when nothing.
	Caveat string
	Steps  []string
}

// Verify checks a case zip offline under p and the detection policy: every
// file against the manifest, the checkpoint under p, every inclusion proof,
// every signature against the keys in force at its index, and that the flag
// follows from the evidence. The first failure is returned, naming the file
// or entry; ErrCase wraps it.
func Verify(zipBytes []byte, p Policy, policy detect.Policy) (*Report, error) {
	r, err := verify(zipBytes, p, policy)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCase, err)
	}
	return r, nil
}

func verify(zipBytes []byte, p Policy, policy detect.Policy) (*Report, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil {
		return nil, fmt.Errorf("not a zip: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return nil, fmt.Errorf("%s: twice in the zip", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxFile+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if len(b) > maxFile {
			return nil, fmt.Errorf("%s: larger than %d bytes", f.Name, maxFile)
		}
		files[f.Name] = b
	}
	mb, ok := files[ManifestName]
	if !ok {
		return nil, fmt.Errorf("%s: missing", ManifestName)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	// encoding/json matches keys case-insensitively and ignores what
	// follows the value; the manifest must be exactly as Write encodes it,
	// so that no change to it, however small, goes unnoticed.
	if canon, err := json.MarshalIndent(m, "", "  "); err != nil || !bytes.Equal(canon, mb) {
		return nil, fmt.Errorf("%s: not in the canonical encoding Write produces (a changed key, value or spacing)", ManifestName)
	}
	if m.Format != FormatV1 {
		return nil, fmt.Errorf("%s: format %q, want %q", ManifestName, m.Format, FormatV1)
	}
	rep := &Report{FlagID: m.FlagID}
	listed := map[string]bool{ManifestName: true}
	for _, f := range m.Files {
		b, ok := files[f.Name]
		if !ok {
			return nil, fmt.Errorf("%s: listed in %s but not in the zip", f.Name, ManifestName)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return nil, fmt.Errorf("%s: SHA-256 %x, the manifest says %s", f.Name, sum, f.SHA256)
		}
		listed[f.Name] = true
	}
	for n := range files {
		if !listed[n] {
			return nil, fmt.Errorf("%s: in the zip but not in %s", n, ManifestName)
		}
	}
	rep.Steps = append(rep.Steps, fmt.Sprintf("%d files match the SHA-256 sums of %s", len(m.Files), ManifestName))

	// The checkpoint: the log's key is the bundle's claim; the policy's
	// must be the same key, or nothing else here means anything.
	if p.Log == nil {
		return nil, fmt.Errorf("no log key in the policy: a case file cannot vouch for its own log key")
	}
	if m.LogKey != "" {
		if v, err := noteVerifier(m.LogKey); err != nil || v.Name() != p.Log.Name() || v.KeyHash() != p.Log.KeyHash() {
			return nil, fmt.Errorf("%s: log key %q is not the log key of the policy (%s)", ManifestName, m.LogKey, p.Log.Name())
		}
	}
	cp, err := VerifyNote(files[m.Checkpoint], p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Checkpoint, err)
	}
	if cp.Size != m.TreeSize {
		return nil, fmt.Errorf("%s: tree size %d, the manifest says %d", m.Checkpoint, cp.Size, m.TreeSize)
	}
	rep.Checkpoint = cp
	rep.Steps = append(rep.Steps, fmt.Sprintf("checkpoint %s at size %d signed by the log (%d witness cosignatures required)", cp.Origin, cp.Size, p.Quorum))

	var flag chemledgerv1.Flag
	if err := protojson.Unmarshal(files[FlagName], &flag); err != nil {
		return nil, fmt.Errorf("%s: %w", FlagName, err)
	}
	if flag.GetId() != m.FlagID {
		return nil, fmt.Errorf("%s: flag %s, the manifest says %s", FlagName, flag.GetId(), m.FlagID)
	}
	rep.RuleID = flag.GetRuleId()

	// Every entry: its leaf hash, its proof.
	type bundled struct {
		me   ManifestEntry
		leaf []byte
		env  *envelope.Envelope
		pl   envelope.Payload
	}
	var es []bundled
	seen := map[uint64]bool{}
	for _, me := range m.Entries {
		switch me.Role {
		case RoleEvidence, RoleDisposition, RoleRegistry, RoleContext:
		default:
			return nil, fmt.Errorf("entry %d: role %q in %s, want evidence, disposition, registry or context", me.Index, me.Role, ManifestName)
		}
		if seen[me.Index] {
			return nil, fmt.Errorf("entry %d: twice in %s", me.Index, ManifestName)
		}
		seen[me.Index] = true
		leaf, ok := files[me.Envelope]
		if !ok {
			return nil, fmt.Errorf("entry %d: %s missing", me.Index, me.Envelope)
		}
		lh := checkpoint.LeafHash(leaf)
		if hex.EncodeToString(lh) != me.LeafHash {
			return nil, fmt.Errorf("entry %d: %s hashes to leaf %x, the manifest says %s", me.Index, me.Envelope, lh, me.LeafHash)
		}
		var pr Proof
		if err := json.Unmarshal(files[me.Proof], &pr); err != nil {
			return nil, fmt.Errorf("entry %d: %s: %w", me.Index, me.Proof, err)
		}
		if pr.Index != me.Index || pr.TreeSize != cp.Size {
			return nil, fmt.Errorf("entry %d: %s is a proof of index %d at size %d, want index %d at size %d", me.Index, me.Proof, pr.Index, pr.TreeSize, me.Index, cp.Size)
		}
		var hs [][]byte
		for i, h := range pr.Hashes {
			b, err := base64.StdEncoding.DecodeString(h)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %s: hash %d: %w", me.Index, me.Proof, i, err)
			}
			hs = append(hs, b)
		}
		if err := cp.VerifyInclusion(me.Index, lh, hs); err != nil {
			return nil, fmt.Errorf("entry %d: %s: %w", me.Index, me.Proof, err)
		}
		env, err := envelope.Parse(leaf)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %s: %w", me.Index, me.Envelope, err)
		}
		pl, err := envelope.DecodePayload(env)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %s: %w", me.Index, me.Envelope, err)
		}
		es = append(es, bundled{me, leaf, env, pl})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].me.Index < es[j].me.Index })
	rep.Entries = len(es)
	rep.Steps = append(rep.Steps, fmt.Sprintf("%d entries proven included in the checkpoint", len(es)))

	// Evidence and dispositions the flag names must all be bundled.
	roles := map[uint64]string{}
	for _, b := range es {
		roles[b.me.Index] = b.me.Role
	}
	for _, ix := range flag.GetEvidence() {
		if !seen[ix] {
			return nil, fmt.Errorf("entry %d: evidence of flag %s, not in the bundle", ix, flag.GetId())
		}
		if roles[ix] != RoleEvidence {
			return nil, fmt.Errorf("entry %d: evidence of flag %s, marked %s in %s", ix, flag.GetId(), roles[ix], ManifestName)
		}
	}
	for _, d := range flag.GetStatusHistory() {
		if !seen[d.GetIndex()] {
			return nil, fmt.Errorf("entry %d: disposition of flag %s, not in the bundle", d.GetIndex(), flag.GetId())
		}
	}

	// Signatures, against the keys in force at each index: the founders'
	// keys, then the key entries in the bundle in index order.
	var founders []Founder
	if err := json.Unmarshal(files[FoundersName], &founders); err != nil {
		return nil, fmt.Errorf("%s: %w", FoundersName, err)
	}
	keys := map[string]envelope.Key{}
	for _, f := range founders {
		keys[f.KeyID] = envelope.Key{ID: f.KeyID, MemberID: f.Member, Public: f.Ed25519}
	}
	revokedAt := map[string]uint64{}
	for _, b := range es {
		member, err := envelope.Verify(b.env, func(id string) (envelope.Key, bool) { k, ok := keys[id]; return k, ok })
		if err != nil {
			if at, ok := revokedAt[firstKeyID(b.env)]; ok {
				return nil, fmt.Errorf("entry %d: %s signed with key %q, which the registry revoked at entry %d", b.me.Index, b.me.Envelope, firstKeyID(b.env), at)
			}
			return nil, fmt.Errorf("entry %d: %s: %w", b.me.Index, b.me.Envelope, err)
		}
		if member != b.me.Member {
			return nil, fmt.Errorf("entry %d: signed by %s, the manifest says %s", b.me.Index, member, b.me.Member)
		}
		if mk := b.pl.Registry.GetMemberKey(); mk != nil {
			if mk.GetRevoked() {
				if k, ok := keys[mk.GetKeyId()]; ok {
					k.Revoked = true
					keys[mk.GetKeyId()] = k
					revokedAt[mk.GetKeyId()] = b.me.Index
				}
			} else {
				keys[mk.GetKeyId()] = envelope.Key{ID: mk.GetKeyId(), MemberID: mk.GetMember(), Public: mk.GetEd25519()}
			}
		}
	}
	rep.Steps = append(rep.Steps, fmt.Sprintf("%d signatures verified against the member keys in force at their index", len(es)))

	// The finding: fold the bundled entries through the detector.
	eng := detect.NewEngine(policy)
	if flag.GetPolicyVersion() != eng.PolicyVersion() {
		return nil, fmt.Errorf("%s: flag judged under policy %s; this verifier runs %s and cannot re-derive it", FlagName, flag.GetPolicyVersion(), eng.PolicyVersion())
	}
	// Times come from the signed payloads (an event's occurred time, a
	// registry entry's effective time): the integrated time is not in the
	// bundle, because no hash covers it.
	st := detect.NewState()
	var raised []detect.Flag
	var clock time.Time
	for _, b := range es {
		rec := detect.Record{Index: b.me.Index, Member: b.me.Member, Event: b.pl.Event, Registry: b.pl.Registry}
		switch {
		case b.pl.Event.GetOccurredTime() != nil:
			rec.Time = b.pl.Event.GetOccurredTime().AsTime()
		case b.pl.Registry.GetEffectiveTime() != nil:
			rec.Time = b.pl.Registry.GetEffectiveTime().AsTime()
		default:
			rec.Time = clock
		}
		raised = append(raised, eng.Apply(st, rec)...)
		if b.pl.Event.GetOccurredTime() != nil && rec.Time.After(clock) {
			clock = rec.Time
			raised = append(raised, eng.Sweep(st, clock)...)
		}
	}
	// A time-based flag is raised when the log's clock passes its deadline;
	// the bundle's last entry may come before that, so sweep at the raise.
	raised = append(raised, eng.Sweep(st, flag.GetRaisedTime().AsTime())...)
	i := slices.IndexFunc(raised, func(f detect.Flag) bool { return f.ID == flag.GetId() })
	if i < 0 {
		return nil, fmt.Errorf("%s: the detector over the bundled entries does not raise flag %s (%s)", FlagName, flag.GetId(), flag.GetRuleId())
	}
	got := raised[i]
	// A rule that weighs the finding against aggregates of the whole
	// history (R21's "large" against the chemical's logged lots) words its
	// explanation with a figure the bundle cannot recompute; the rule, its
	// version and every evidence entry must still match.
	_, aggregate := historyFigures[flag.GetRuleId()]
	if got.RuleID != flag.GetRuleId() || got.RuleVersion != int(flag.GetRuleVersion()) || !slices.Equal(got.Evidence, flag.GetEvidence()) ||
		(!aggregate && got.Explanation != flag.GetExplanation()) {
		return nil, fmt.Errorf("%s: re-derived flag %s differs: rule %s v%d, evidence %v; the bundle says %s v%d, evidence %v",
			FlagName, got.ID, got.RuleID, got.RuleVersion, got.Evidence, flag.GetRuleId(), flag.GetRuleVersion(), flag.GetEvidence())
	}
	rep.Rederived = true
	rep.Caveat = Caveats[flag.GetRuleId()]
	if why, ok := historyFigures[flag.GetRuleId()]; ok {
		rep.Caveat += " " + why
	}
	rep.Steps = append(rep.Steps, fmt.Sprintf("flag %s re-derived by rule %s v%d from the bundled entries in index order", got.ID, got.RuleID, got.RuleVersion))
	return rep, nil
}

func firstKeyID(env *envelope.Envelope) string {
	if len(env.Signatures) == 0 {
		return ""
	}
	return env.Signatures[0].KeyID
}

// historyFigures names the rules whose explanation quotes a figure computed
// over the whole history, and what that figure is.
var historyFigures = map[string]string{
	"R21": "Its explanation's lot size for the chemical (the p90 of the lots logged before) is the log's, not recomputed from the bundle.",
}

// Caveats say, for the rules that rest on something not being in the log,
// what re-deriving from a bundle cannot show: a bundle is a subset, and a
// missing entry looks the same as one left out. For the other rules the
// finding rests only on entries the bundle proves.
var Caveats = map[string]string{
	"R1A": "R1A rests on the absence of an import declaration or receipt; the bundle proves the export and the deadline, not that no receipt is anywhere in the log.",
	"R4":  "R4 rests on the absence of a PEN; the bundle proves the export, not that no PEN is anywhere in the log.",
	"R5":  "R5 rests on the absence of a reply before the export; the bundle cannot prove that no reply is anywhere in the log.",
	"R6":  "R6 rests on the absence of a valid licence; the bundle carries the registry entries the exporter bundled, and cannot prove that no other licence is in the log.",
	"R9":  "R9 sums a year's imports; the bundle proves those it carries, and any further import would only raise the sum.",
	"R21": "R21 rests on the consignee not appearing earlier in the log; the bundle cannot prove that absence (it carries the log's first event, which fixes the log's age).",
}

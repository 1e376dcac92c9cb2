package detect

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Snapshots of the detector's state. The state is a function of the log
// prefix and the policy, so folding the log again always rebuilds it; a
// snapshot only saves that fold on restart. Restoring a snapshot of records
// [0, k) and folding [k, n) must give exactly the flags a straight fold of
// [0, n) gives, so a snapshot carries every index, the raised-flag memory and
// the sweep queue as they stood, and is refused unless it was taken by the
// same encoding of the same State under the same policy.
//
// The encoding is written by hand (varints, fixed-width floats, strings
// interned in a table as they first appear) because a snapshot is taken
// while the log is being folded: encoding/gob took about 4 µs per entry of
// state, close to the cost of folding the entry again. Layout:
//
//	magic | format | shape | policy | sections | SHA-256 of all before it
//
// with one section per index of State, each its item count and its items,
// maps in key order. The checksum makes a damaged value refused rather
// than restored into wrong flags.

// snapshotFormat is the version of the encoding below. A change to State's
// types retires old snapshots on its own (see stateShape); bump this when
// the encoding changes while the types do not.
const snapshotFormat = 1

const snapshotMagic = "chemledger detector state\n"

// ErrSnapshotVersion means a snapshot was taken by another encoding, another
// shape of State or under another policy version. It is not damage: the
// state must be rebuilt by folding the log.
var ErrSnapshotVersion = errors.New("detector state snapshot of another version")

// EncodeState returns a snapshot of s, which e has folded. The encoding is
// deterministic: the same state gives the same bytes.
func (e *Engine) EncodeState(s *State) ([]byte, error) {
	w := &snapWriter{syms: make(map[string]uint64, len(s.shipments)+2*len(s.parties))}
	w.b = append(w.b, snapshotMagic...)
	w.uvarint(snapshotFormat)
	w.str(stateShape())
	w.str(e.version)
	s.writeSnapshot(w)
	if w.err != nil {
		return nil, fmt.Errorf("encode detector state: %w", w.err)
	}
	sum := sha256.Sum256(w.b)
	return append(w.b, sum[:]...), nil
}

// DecodeState restores a state from a snapshot EncodeState made. A snapshot
// of another version or policy gives ErrSnapshotVersion; a damaged one
// another error. b is not retained.
func (e *Engine) DecodeState(b []byte) (*State, error) {
	if len(b) < len(snapshotMagic)+sha256.Size || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("not a detector state snapshot")
	}
	body := b[:len(b)-sha256.Size]
	if sha256.Sum256(body) != [sha256.Size]byte(b[len(body):]) {
		return nil, errors.New("detector state snapshot: checksum mismatch")
	}
	r := &snapReader{b: body[len(snapshotMagic):]}
	format, shape, policy := r.uvarint(), r.str(), r.str()
	if r.err != nil {
		return nil, fmt.Errorf("decode detector state header: %w", r.err)
	}
	if format != snapshotFormat || shape != stateShape() {
		return nil, fmt.Errorf("%w: format %d/%s, want %d/%s", ErrSnapshotVersion, format, shape, snapshotFormat, stateShape())
	}
	if policy != e.version {
		return nil, fmt.Errorf("%w: policy %s, want %s", ErrSnapshotVersion, policy, e.version)
	}
	s := readSnapshot(r)
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the last section", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode detector state: %w", r.err)
	}
	return s, nil
}

// stateShape fingerprints the types State is made of, so that a snapshot
// taken before any of them changed is refused instead of decoded with a
// field missing.
var stateShape = sync.OnceValue(func() string {
	var b strings.Builder
	writeShape(&b, reflect.TypeFor[State](), map[reflect.Type]bool{})
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
})

// writeShape describes t, descending into this package's types and treating
// others (time.Time, protobuf enums) as opaque names.
func writeShape(b *strings.Builder, t reflect.Type, seen map[reflect.Type]bool) {
	b.WriteString(t.String())
	if seen[t] || t.PkgPath() != "" && t.PkgPath() != reflect.TypeFor[State]().PkgPath() {
		return
	}
	if t.Name() != "" {
		seen[t] = true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		b.WriteByte('(')
		writeShape(b, t.Elem(), seen)
		b.WriteByte(')')
	case reflect.Map:
		b.WriteByte('(')
		writeShape(b, t.Key(), seen)
		b.WriteByte(',')
		writeShape(b, t.Elem(), seen)
		b.WriteByte(')')
	case reflect.Struct:
		b.WriteByte('{')
		for i := range t.NumField() {
			f := t.Field(i)
			b.WriteString(f.Name)
			b.WriteByte(' ')
			writeShape(b, f.Type, seen)
			b.WriteByte(';')
		}
		b.WriteByte('}')
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// writeSnapshot writes s section by section. Shared pointers become
// references: a party is 0 for nil, 1 for the empty party and 2 on for the
// party table; a shipment's legs are written with it (a leg belongs to the
// shipment of its Ref alone) and referred to from 1 on, 0 for none. The
// memo of normalised names is not written; it refills.
func (s *State) writeSnapshot(w *snapWriter) {
	w.time(s.start)
	w.bool(s.started)

	// The party table: the interned parties, then any party a leg, order or
	// refusal holds that is not interned (none, today).
	partyRef := map[*Party]uint64{nil: 0, &noParty: 1}
	var table []*Party
	intern := func(p *Party) {
		if _, ok := partyRef[p]; !ok {
			partyRef[p] = uint64(len(table) + 2)
			table = append(table, p)
		}
	}
	partyKeys := sortedKeys(s.parties)
	for _, k := range partyKeys {
		intern(s.parties[k])
	}
	shipments := sortedKeys(s.shipments)
	for _, k := range shipments {
		for _, l := range shipmentLegs(s.shipments[k]) {
			if l != nil {
				intern(l.Exporter)
				intern(l.Importer)
				intern(l.Consignee)
			}
		}
	}
	orders, refusals := sortedKeys(s.orders), sortedKeys(s.refusals)
	for _, k := range orders {
		for _, o := range s.orders[k].items {
			intern(o.Exporter)
		}
	}
	for _, k := range refusals {
		for _, r := range s.refusals[k].items {
			intern(r.Exporter)
		}
	}
	w.uvarint(uint64(len(table)))
	for _, p := range table {
		w.party(*p)
	}
	w.uvarint(uint64(len(partyKeys)))
	for _, k := range partyKeys {
		w.str(k)
		w.uvarint(partyRef[s.parties[k]])
	}

	w.uvarint(uint64(len(shipments)))
	for _, k := range shipments {
		sh := s.shipments[k] // filed under its Ref
		w.sym(sh.Ref)
		var legs []*Leg
		var refs [6]byte
		for i, l := range shipmentLegs(sh) {
			if l == nil {
				continue
			}
			j := slices.Index(legs, l)
			if j < 0 {
				j = len(legs)
				legs = append(legs, l)
			}
			refs[i] = byte(j + 1)
		}
		w.b = append(w.b, byte(len(legs)))
		for _, l := range legs {
			w.leg(l, partyRef)
		}
		w.b = append(w.b, refs[:]...)
	}

	w.uvarint(uint64(len(s.licences)))
	for _, k := range sortedKeys(s.licences) {
		w.str(k)
		w.licence(s.licences[k])
	}
	w.uvarint(uint64(len(s.licenceBy)))
	for _, k := range sortedKeys(s.licenceBy) {
		w.str(k)
		w.strs(s.licenceBy[k])
	}
	w.uvarint(uint64(len(s.alrs)))
	for _, k := range sortedKeys(s.alrs) {
		w.str(k)
		w.uvarint(uint64(len(s.alrs[k])))
		for _, a := range s.alrs[k] {
			w.float(a.KG)
			w.varint(int64(a.Year))
			w.uvarint(a.Index)
		}
	}
	w.uvarint(uint64(len(s.imported)))
	for _, k := range sortedKeys(s.imported) {
		w.str(k)
		w.float(s.imported[k].KG)
		w.uvarints(s.imported[k].Evidence)
	}
	w.uvarint(uint64(len(orders)))
	for _, k := range orders {
		h := s.orders[k]
		w.str(k)
		w.time(h.newest)
		w.uvarint(uint64(h.kept))
		w.uvarint(uint64(len(h.items)))
		for _, o := range h.items {
			w.bool(o.Under)
			w.uvarint(o.Index)
			w.varint(int64(o.Kind))
			w.sym(o.Ref)
			w.sym(o.CAS)
			w.float(o.KG)
			w.uvarint(partyRef[o.Exporter])
			w.time(o.Occurred)
		}
	}
	w.uvarint(uint64(len(refusals)))
	for _, k := range refusals {
		h := s.refusals[k]
		w.str(k)
		w.time(h.newest)
		w.uvarint(uint64(h.kept))
		w.uvarint(uint64(len(h.items)))
		for _, r := range h.items {
			w.uvarint(r.Index)
			w.varint(int64(r.Reply))
			w.varint(int64(r.Incident))
			w.sym(r.Ref)
			w.sym(r.CAS)
			w.uvarint(partyRef[r.Exporter])
			w.time(r.Occurred)
		}
	}
	w.uvarint(uint64(len(s.firstSeen)))
	for _, k := range sortedKeys(s.firstSeen) {
		w.str(k)
		w.time(s.firstSeen[k].Occurred)
		w.uvarint(s.firstSeen[k].Index)
		w.bool(s.firstSeen[k].Registry)
	}
	w.uvarint(uint64(len(s.registered)))
	for _, k := range sortedKeys(s.registered) {
		w.str(k)
		w.time(s.registered[k].Occurred)
		w.uvarint(s.registered[k].Index)
		w.bool(s.registered[k].Registry)
	}
	w.uvarint(uint64(len(s.lotSizes)))
	for _, k := range sortedKeys(s.lotSizes) {
		ls := s.lotSizes[k]
		w.str(k)
		w.uvarint(uint64(ls.N))
		// Sparse: most buckets of a chemical are empty.
		for b, n := range ls.Counts {
			if n > 0 {
				w.uvarint(uint64(b) + 1)
				w.uvarint(uint64(n))
			}
		}
		w.uvarint(0)
	}
	w.uvarint(uint64(len(s.watch)))
	for _, k := range sortedKeys(s.watch) {
		e := s.watch[k]
		w.str(k)
		w.str(e.Key)
		w.sym(e.List)
		w.party(e.Party)
		w.strs(e.Aliases)
		w.strs(e.AliasNorms)
		w.str(e.Reason)
		w.uvarint(e.Index)
	}
	w.uvarint(uint64(len(s.profiles)))
	for _, k := range sortedKeys(s.profiles) {
		w.str(k)
		w.party(s.profiles[k])
	}
	w.strs(sortedKeys(s.raised))
	w.strs(sortedKeys(s.consumed))
	w.uvarint(uint64(len(s.refs)))
	for _, k := range sortedKeys(s.refs) {
		w.str(k)
		w.uvarint(uint64(len(s.refs[k])))
		for _, v := range s.refs[k] {
			w.uvarint(v.Index)
			w.sym(v.Member)
			w.time(v.From)
			w.time(v.Until)
			w.bool(v.Removed)
			w.strs(v.CAS)
			w.str(v.Name)
			w.uvarint(uint64(len(v.Steps)))
			for _, st := range v.Steps {
				w.strs(st)
			}
			w.float(v.KG)
			w.bool(v.Complete)
		}
	}
	w.uvarint(uint64(len(s.patterns)))
	for _, k := range sortedKeys(s.patterns) {
		p := s.patterns[k]
		w.str(k)
		w.str(p.Head)
		w.uvarint(p.FirstIndex)
		w.uvarint(p.LastIndex)
		w.time(p.First)
		w.time(p.Last)
		w.varint(int64(p.Count))
		w.float(p.KG)
		w.uvarint(p.Steps)
	}
	w.uvarint(uint64(len(s.due)))
	for _, it := range s.due { // heap order
		w.time(it.due)
		w.sym(it.ref)
	}
}

func shipmentLegs(sh *Shipment) [6]*Leg {
	return [6]*Leg{sh.PEN, sh.Reply, sh.Export, sh.Receipt, sh.Movement, sh.Closed}
}

// readSnapshot reads what writeSnapshot wrote, sharing parties and legs as
// the original state did.
func readSnapshot(r *snapReader) *State {
	s := NewState()
	s.start = r.time()
	s.started = r.bool()

	parties := make([]*Party, 2, 2+r.count())
	parties[1] = &noParty
	for range cap(parties) - 2 {
		p := r.party()
		parties = append(parties, &p)
	}
	party := func() *Party {
		i := r.uvarint()
		if i >= uint64(len(parties)) {
			r.fail(fmt.Errorf("party %d of %d", i, len(parties)))
			return &noParty
		}
		return parties[i]
	}
	for range r.count() {
		k := r.str()
		s.parties[k] = party()
	}

	for range r.count() {
		ref := r.sym()
		legs := make([]Leg, r.byte())
		for i := range legs {
			r.leg(&legs[i], party)
		}
		leg := func() *Leg {
			i := int(r.byte())
			switch {
			case i == 0:
				return nil
			case i > len(legs):
				r.fail(fmt.Errorf("shipment %s: leg %d of %d", ref, i, len(legs)))
				return nil
			}
			return &legs[i-1]
		}
		s.shipments[ref] = &Shipment{Ref: ref, PEN: leg(), Reply: leg(), Export: leg(), Receipt: leg(), Movement: leg(), Closed: leg()}
	}

	for range r.count() {
		k := r.str()
		s.licences[k] = r.licence()
	}
	for range r.count() {
		k := r.str()
		s.licenceBy[k] = r.strs()
	}
	for range r.count() {
		k := r.str()
		alrs := make([]ALR, r.count())
		for i := range alrs {
			alrs[i] = ALR{KG: r.float(), Year: int(r.varint()), Index: r.uvarint()}
		}
		s.alrs[k] = alrs
	}
	for range r.count() {
		k := r.str()
		s.imported[k] = &Cumulative{KG: r.float(), Evidence: r.uvarints()}
	}
	for range r.count() {
		k := r.str()
		h := &orderHistory{history: history[Order]{newest: r.time(), kept: int(r.uvarint())}}
		h.items = make([]Order, r.count())
		for i := range h.items {
			h.items[i] = Order{
				Under: r.bool(), Index: r.uvarint(), Kind: chemledgerv1.EventKind(r.varint()), Ref: r.sym(), CAS: r.sym(),
				KG: r.float(), Exporter: party(), Occurred: r.time(),
			}
		}
		// Snapshots written before orders were kept by time hold them in
		// log order; a stable sort gives what folding does now.
		slices.SortStableFunc(h.items, func(a, b Order) int { return a.Occurred.Compare(b.Occurred) })
		h.rebuildLots()
		s.orders[k] = h
	}
	for range r.count() {
		k := r.str()
		h := &history[Refusal]{newest: r.time(), kept: int(r.uvarint())}
		h.items = make([]Refusal, r.count())
		for i := range h.items {
			h.items[i] = Refusal{
				Index: r.uvarint(), Reply: chemledgerv1.PenReply(r.varint()), Incident: chemledgerv1.IncidentKind(r.varint()),
				Ref: r.sym(), CAS: r.sym(), Exporter: party(), Occurred: r.time(),
			}
		}
		s.refusals[k] = h
	}
	for range r.count() {
		k := r.str()
		s.firstSeen[k] = Sighting{Occurred: r.time(), Index: r.uvarint(), Registry: r.bool()}
	}
	for range r.count() {
		k := r.str()
		s.registered[k] = Sighting{Occurred: r.time(), Index: r.uvarint(), Registry: r.bool()}
	}
	for range r.count() {
		k := r.str()
		ls := &lotSizes{N: int(r.uvarint())}
		for b := r.uvarint(); b != 0 && r.err == nil; b = r.uvarint() {
			if b > lotBuckets {
				r.fail(fmt.Errorf("lot sizes of %s: bucket %d of %d", k, b-1, lotBuckets))
				break
			}
			ls.Counts[b-1] = uint32(r.uvarint())
		}
		s.lotSizes[k] = ls
	}
	for range r.count() {
		k := r.str()
		s.watch[k] = &WatchEntry{
			Key: r.str(), List: r.sym(), Party: r.party(), Aliases: r.strs(), AliasNorms: r.strs(),
			Reason: r.str(), Index: r.uvarint(),
		}
	}
	for range r.count() {
		k := r.str()
		s.profiles[k] = r.party()
	}
	for _, id := range r.strs() {
		s.raised[id] = struct{}{}
	}
	for _, k := range r.strs() {
		s.consumed[k] = struct{}{}
	}
	for range r.count() {
		k := r.str()
		vs := make([]ReferenceEntry, r.count())
		for i := range vs {
			v := ReferenceEntry{Index: r.uvarint(), Member: r.sym(), From: r.time(), Until: r.time(), Removed: r.bool(), CAS: r.strs(), Name: r.str()}
			if n := r.count(); n > 0 {
				v.Steps = make([][]string, n)
				for j := range v.Steps {
					v.Steps[j] = r.strs()
				}
			}
			v.KG, v.Complete = r.float(), r.bool()
			vs[i] = v
		}
		s.refs[k] = vs
		if strings.HasPrefix(k, refKey(ReferenceSynthesisSet, "")) {
			s.refSets += len(vs)
		}
	}
	for range r.count() {
		k := r.str()
		s.patterns[k] = &Pattern{
			Head: r.str(), FirstIndex: r.uvarint(), LastIndex: r.uvarint(), First: r.time(), Last: r.time(),
			Count: int(r.varint()), KG: r.float(), Steps: r.uvarint(),
		}
	}
	if n := r.count(); n > 0 {
		s.due = make(dueQueue, n)
		for i := range s.due {
			s.due[i] = dueItem{due: r.time(), ref: r.sym()}
		}
	}
	return s
}

func (w *snapWriter) party(p Party) {
	w.sym(p.Key)
	w.sym(p.Letters)
	w.sym(p.Name)
	w.sym(p.Norm)
	w.sym(p.Country)
	w.uvarint(uint64(len(p.IDs)))
	for _, id := range p.IDs {
		w.sym(id)
	}
	w.sym(p.Profile)
}

func (r *snapReader) party() Party {
	p := Party{Key: r.sym(), Letters: r.sym(), Name: r.sym(), Norm: r.sym(), Country: r.sym()}
	if n := r.count(); n > 0 {
		p.IDs = make([]string, n)
		for i := range p.IDs {
			p.IDs[i] = r.sym()
		}
	}
	p.Profile = r.sym()
	return p
}

func (w *snapWriter) leg(l *Leg, partyRef map[*Party]uint64) {
	w.uvarint(l.Index)
	w.sym(l.Member)
	w.varint(int64(l.Kind))
	w.sym(l.Ref)
	w.time(l.Logged)
	w.time(l.Occurred)
	w.sym(l.CAS)
	w.sym(l.Chemical)
	w.sym(l.HS)
	a := l.Amount
	w.bool(a.Known)
	w.float(a.KG)
	w.float(a.Value)
	w.sym(a.Unit)
	w.float(a.Percent)
	w.bool(a.Volume)
	w.float(a.Density)
	w.bool(a.DensityAssumed)
	w.uvarint(partyRef[l.Exporter])
	w.uvarint(partyRef[l.Importer])
	w.uvarint(partyRef[l.Consignee])
	w.bool(l.ConsigneeStated)
	w.time(l.Dispatch)
	w.time(l.Arrival)
	w.time(l.ReplyBy)
	w.varint(int64(l.Reply))
	w.varint(int64(l.Incident))
	w.sym(l.Location)
}

func (r *snapReader) leg(l *Leg, party func() *Party) {
	*l = Leg{
		Index: r.uvarint(), Member: r.sym(), Kind: chemledgerv1.EventKind(r.varint()), Ref: r.sym(),
		Logged: r.time(), Occurred: r.time(), CAS: r.sym(), Chemical: r.sym(), HS: r.sym(),
		Amount: Amount{
			Known: r.bool(), KG: r.float(), Value: r.float(), Unit: r.sym(), Percent: r.float(),
			Volume: r.bool(), Density: r.float(), DensityAssumed: r.bool(),
		},
		Exporter: party(), Importer: party(), Consignee: party(), ConsigneeStated: r.bool(),
		Dispatch: r.time(), Arrival: r.time(), ReplyBy: r.time(),
		Reply: chemledgerv1.PenReply(r.varint()), Incident: chemledgerv1.IncidentKind(r.varint()), Location: r.sym(),
	}
}

func (w *snapWriter) licence(l *Licence) {
	w.str(l.Number)
	w.sym(l.IssuingCountry)
	w.party(l.Holder)
	w.strs(l.CAS)
	w.time(l.ValidFrom)
	w.time(l.ValidUntil)
	w.time(l.RevokedAt)
	w.uvarint(l.Index)
}

func (r *snapReader) licence() *Licence {
	return &Licence{
		Number: r.str(), IssuingCountry: r.sym(), Holder: r.party(), CAS: r.strs(),
		ValidFrom: r.time(), ValidUntil: r.time(), RevokedAt: r.time(), Index: r.uvarint(),
	}
}

// snapWriter appends a snapshot's values. Strings that repeat (names,
// countries, chemicals, shipment references) go through sym: written once,
// then referred to by their order of first appearance.
type snapWriter struct {
	b    []byte
	syms map[string]uint64
	err  error
}

func (w *snapWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *snapWriter) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *snapWriter) float(v float64) {
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v))
}

func (w *snapWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *snapWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *snapWriter) strs(ss []string) {
	w.uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *snapWriter) uvarints(vs []uint64) {
	w.uvarint(uint64(len(vs)))
	for _, v := range vs {
		w.uvarint(v)
	}
}

// sym writes 0 and s the first time, then s's number from 1 on.
func (w *snapWriter) sym(s string) {
	if i, ok := w.syms[s]; ok {
		w.uvarint(i)
		return
	}
	w.syms[s] = uint64(len(w.syms) + 1)
	w.uvarint(0)
	w.str(s)
}

// time writes 0 for the zero time, 1 and the Unix seconds and nanoseconds
// for a UTC time, else 2 and the time's binary form, which keeps its
// offset.
func (w *snapWriter) time(t time.Time) {
	switch {
	case t == time.Time{}:
		w.b = append(w.b, 0)
	case t.Location() == time.UTC:
		w.b = append(w.b, 1)
		w.varint(t.Unix())
		w.uvarint(uint64(t.Nanosecond()))
	default:
		w.b = append(w.b, 2, 0)
		n := len(w.b)
		var err error
		if w.b, err = t.AppendBinary(w.b); err != nil && w.err == nil {
			w.err = err
		}
		w.b[n-1] = byte(len(w.b) - n)
	}
}

// snapReader reads a snapshot's values. The first failure sticks: every
// read after it returns a zero value, and the caller checks err once.
type snapReader struct {
	b    []byte
	syms []string
	err  error
}

func (r *snapReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

var errShort = errors.New("snapshot ends early")

func (r *snapReader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *snapReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a number of items that follow, each at least a byte long.
func (r *snapReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail(fmt.Errorf("%d items in %d bytes", n, len(r.b)))
		return 0
	}
	return int(n)
}

func (r *snapReader) float() float64 {
	if len(r.b) < 8 {
		r.fail(errShort)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *snapReader) bool() bool { return r.byte() != 0 }

func (r *snapReader) raw(n int) []byte {
	if n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *snapReader) str() string { return string(r.raw(r.count())) }

func (r *snapReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *snapReader) uvarints() []uint64 {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.uvarint()
	}
	return out
}

func (r *snapReader) sym() string {
	i := r.uvarint()
	switch {
	case i == 0 && r.err == nil:
		s := r.str()
		r.syms = append(r.syms, s)
		return s
	case i > uint64(len(r.syms)):
		r.fail(fmt.Errorf("string %d of %d", i, len(r.syms)))
		return ""
	case i == 0:
		return ""
	}
	return r.syms[i-1]
}

func (r *snapReader) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
		sec := r.varint()
		nsec := r.uvarint()
		if nsec >= 1e9 {
			r.fail(fmt.Errorf("%d nanoseconds", nsec))
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	case 2:
		var t time.Time
		if err := t.UnmarshalBinary(r.raw(int(r.byte()))); err != nil {
			r.fail(err)
		}
		return t
	}
	r.fail(errors.New("bad time"))
	return time.Time{}
}

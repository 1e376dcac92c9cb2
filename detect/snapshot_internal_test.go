package detect

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fill sets every settable field under v to a distinct non-zero value, so
// that a field the snapshot forgets shows up as a difference after a round
// trip.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.25)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), n)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n)
		v.Set(p)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1_780_000_000+int64(*n)*3600, int64(*n)).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				fill(v.Field(i), n)
			}
		}
	default:
		panic("fill: " + v.Type().String())
	}
}

func filled[T any](n *int) T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), n)
	return v
}

// Every field of every type the state holds survives a snapshot: legs,
// parties, licences, orders and refusals filled field by field come back
// the same, as do pointers shared between legs and parties.
func TestSnapshotKeepsEveryField(t *testing.T) {
	n := 0
	s := NewState()
	s.start, s.started = filled[time.Time](&n), true
	for range 3 {
		p := filled[Party](&n)
		s.parties[p.Name+"\x00raw"] = &p
	}
	for range 2 {
		sh := filled[Shipment](&n)
		sh.Movement = sh.Export // shared, as foldLeg shares them
		sh.Export.Consignee = sh.Export.Importer
		sh.PEN.Exporter = &noParty
		sh.Reply.Arrival = time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
		s.shipments[sh.Ref] = &sh
	}
	l := filled[Licence](&n)
	s.licences["DE|"+l.Number] = &l
	s.licenceBy["ID:x"] = filled[[]string](&n)
	s.alrs["CO|x"] = filled[[]ALR](&n)
	c := filled[Cumulative](&n)
	s.imported["CO|x|2026"] = &c
	s.orders["a|MX"] = &orderHistory{history: history[Order]{items: filled[[]Order](&n), newest: filled[time.Time](&n), kept: 7}}
	s.orders["a|MX"].rebuildLots()
	s.refusals["a|MX"] = &history[Refusal]{items: filled[[]Refusal](&n), newest: filled[time.Time](&n), kept: 9}
	s.firstSeen["a|MX"] = filled[Sighting](&n)
	s.registered["ID:TAX:1"] = filled[Sighting](&n)
	ls := filled[lotSizes](&n)
	s.lotSizes["299-42-3"] = &ls
	w := filled[WatchEntry](&n)
	s.watch[w.Key] = &w
	p := filled[Party](&n)
	s.profiles[p.Profile] = p
	s.raised["R1-abc"], s.consumed["R9\x00SHP-1"] = struct{}{}, struct{}{}
	s.refs[refKey(ReferenceSynthesisSet, "x")] = filled[[]ReferenceEntry](&n)
	s.refSets = 2
	pat := filled[Pattern](&n)
	s.patterns["R11|a|MX|x"] = &pat
	s.due = dueQueue{{due: filled[time.Time](&n), ref: "SHP-2"}, {due: filled[time.Time](&n), ref: "SHP-1"}}

	got := RoundTrip(t, NewEngine(DefaultPolicy()), s)
	for _, sh := range got.shipments {
		if sh.Movement != sh.Export || sh.Export.Consignee != sh.Export.Importer || sh.PEN.Exporter != &noParty {
			t.Errorf("shipment %s: shared legs or parties came back as copies", sh.Ref)
		}
	}
}

// The snapshot writes State field by field; a new field must be written too
// (and the test above taught to fill it).
func TestSnapshotKnowsStateFields(t *testing.T) {
	known := []string{"shipments", "licences", "licenceBy", "alrs", "imported", "orders", "refusals", "firstSeen", "registered", "lotSizes",
		"start", "started", "watch", "profiles", "parties", "raised", "consumed", "patterns", "refs", "refSets", "due", "names"}
	var fields []string
	for f := range reflect.TypeFor[State]().Fields() {
		fields = append(fields, f.Name)
	}
	slices.Sort(fields)
	slices.Sort(known)
	if !slices.Equal(fields, known) {
		t.Fatalf("State's fields are %v; snapshot.go writes %v: write the new ones in writeSnapshot and readSnapshot", fields, known)
	}
}

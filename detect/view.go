package detect

import (
	"iter"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// View is the read-only face of the detector's indexed history that rules
// evaluate against. It is what an entry sees of everything before it: Apply
// evaluates the rules against the View first and folds the entry in after.
// State is the in-memory implementation; a storage-backed one must return
// the same answers for the same log prefix, in the same order, because flags
// must be byte-identical across rebuilds. Returned values are shared: rules
// must not modify them.
type View interface {
	// Shipment returns what is known of a shipment reference.
	Shipment(ref string) (*Shipment, bool)
	// Licences returns the licences whose holder matches p by licence
	// number, shared identifier or normalised name and country, sorted by
	// issuing country and number.
	Licences(p Party) []Licence
	// AnnualRequirement returns the annual legitimate requirement recorded
	// in the log for country and catalogue CAS that applies to year: the
	// entry with the latest first year not after it.
	AnnualRequirement(country, cas string, year int) (ALR, bool)
	// Imported returns the import declarations so far into country of cas
	// in the calendar year.
	Imported(country, cas string, year int) Cumulative
	// Orders returns the pre-export notifications, export and import
	// declarations naming consignee (a party key) as ultimate consignee
	// that occurred from from to to (both included), within the detector's
	// look-back horizon, by occurred time (log order among equal times).
	// The window keeps a rule's cost to the orders near the new one, not
	// every order a large importer ever placed.
	Orders(consignee string, from, to time.Time) []Order
	// Refusals returns the objections, stopped shipments and seizures
	// concerning a party key as importer or consignee, in log
	// order, within the look-back horizon.
	Refusals(party string) []Refusal
	// FirstSeen returns the first appearance in a shipment event, in any
	// role, under a party key or "ID:"+identifier.
	FirstSeen(party string) (Sighting, bool)
	// FirstRegistered returns the earliest first day of a licence the
	// registry holds under a party's own letters (Party.Letters) or
	// "ID:"+identifier, with Registry set.
	FirstRegistered(party string) (Sighting, bool)
	// LotSizes returns the given percentile of the lots of cas ordered so
	// far (notifications, export and import declarations, kg of pure
	// substance, to within 9 %) and how many lots that is.
	LotSizes(cas string, percentile float64) (kg float64, lots int)
	// LogStart returns the earliest occurred time of any shipment event.
	LogStart() (time.Time, bool)
	// WatchList returns the watch-list entries in force, sorted by key.
	WatchList() []WatchEntry
	// KnownProfile reports whether a party profile (Party.Profile) has
	// appeared before; every known profile has been screened against every
	// watch-list entry in force.
	KnownProfile(profile string) bool
	// Profiles yields every known party profile in profile order.
	Profiles() iter.Seq[Party]
	// Raised reports whether the flag with this id was raised already.
	Raised(flagID string) bool
	// Consumed reports whether a rule's flag already used key (a shipment
	// reference) as evidence, so the same shipments do not make a second
	// structuring or combination flag.
	Consumed(scope, key string) bool
	// UnderThreshold summarises the orders of cas naming consignee that
	// occurred in [from, to] and were below their reporting threshold
	// (Order.Under): how many, their kilograms, and whether they and an
	// order from exporter (a party key) come from two exporters or more.
	// It is a filter: it counts both legs of a shipment and orders already
	// used by a flag.
	UnderThreshold(consignee, cas string, from, to time.Time, exporter string) (n int, kg float64, twoExporters bool)
	// AnyOrder reports whether an order of cas naming consignee occurred in
	// [from, to].
	AnyOrder(consignee, cas string, from, to time.Time) bool
	// Reference returns the reference update of kind for key (an
	// importing country, a set id, a catalogue CAS, a register's country)
	// that governs an event on date t: the latest in log order whose
	// validity covers t (reference.go). None means the embedded table.
	Reference(kind ReferenceKind, key string, t time.Time) (*ReferenceEntry, bool)
	// ReferenceKeys returns the keys of kind that any update was made
	// for, sorted.
	ReferenceKeys(kind ReferenceKind) []string
	// Pattern returns the group pattern a rule flagged under key, as it
	// stands after the shipments that joined it (pattern.go).
	Pattern(key string) (Pattern, bool)
}

// Party is a party as the rules compare it.
type Party struct {
	// Key is the normalised name without spaces and the country,
	// "name|CC"; empty when the event names no party in this role.
	// Look-alike letters are mapped to the Latin ones they imitate, so a
	// name spelt with a Cyrillic "а" lands on the same Key: what screening
	// and the aggregating rules (an order split across spellings) need.
	Key string
	// Letters is Key with look-alike letters kept as they are: the party's
	// identity where a look-alike must not pass for the genuine company (a
	// licence, a counterparty's history). It equals Key for a name without
	// look-alike letters.
	Letters string
	// Name is the name as declared.
	Name string
	// Norm is NormalizeName(Name).
	Norm string
	// Country is the ISO 3166-1 alpha-2 country of establishment.
	Country string
	// IDs are the party's identifiers as "SCHEME:VALUE", upper case,
	// letters and digits only, sorted.
	IDs []string
	// Profile is Key plus the identifiers: a new profile is screened
	// against the watch list.
	Profile string
}

// Amount is a declared quantity turned into kilograms of pure substance.
type Amount struct {
	// Known is false when the event has no quantity or its unit is not
	// one the reference data knows.
	Known bool
	// KG is the quantity in kilograms of pure substance.
	KG float64
	// Value, Unit and Percent are the quantity as declared; Percent is
	// the concentration, 100 when undeclared.
	Value   float64
	Unit    string
	Percent float64
	// Volume is true when the quantity was declared by volume.
	Volume bool
	// Density is the kg/l used for a volume.
	Density float64
	// DensityAssumed is true when no density was on file and 1.0 kg/l was
	// used.
	DensityAssumed bool
}

// Leg is one shipment event reduced to the facts the rules use.
type Leg struct {
	// Index is the entry's log index; Member the member that signed it.
	Index  uint64
	Member string
	Kind   chemledgerv1.EventKind
	// Ref is the shipment reference.
	Ref string
	// Logged is the integrated time; Occurred the event's occurred_time,
	// or Logged when unset.
	Logged, Occurred time.Time
	// CAS is the catalogue CAS (the parent for a salt), or the declared one
	// when the catalogue does not know it.
	CAS string
	// Chemical is the catalogue name, or the declared one.
	Chemical string
	// HS is the declared HS code, with any national extension.
	HS string
	// Amount is the declared quantity in kg of pure substance.
	Amount Amount
	// The parties are shared between legs (State interns them) and never
	// nil: an absent party has an empty Key.
	Exporter *Party
	Importer *Party
	// Consignee is the ultimate consignee when one is stated, else the
	// importer; ConsigneeStated says which.
	Consignee       *Party
	ConsigneeStated bool
	// Dispatch, Arrival and ReplyBy are the declared dates; zero when
	// not given.
	Dispatch time.Time
	Arrival  time.Time
	ReplyBy  time.Time
	// Reply is a PEN reply's answer; Incident an incident's kind.
	Reply    chemledgerv1.PenReply
	Incident chemledgerv1.IncidentKind
	// Location is the country where the event happened.
	Location string
}

// Shipment is the state of one shipment reference: the latest leg of each
// kind that rules compare, in log order.
type Shipment struct {
	Ref string
	// PEN is the latest pre-export notification.
	PEN *Leg
	// Reply is the latest reply to it.
	Reply *Leg
	// Export is the latest export declaration (a correction supersedes).
	Export *Leg
	// Receipt is the latest receipt confirmation.
	Receipt *Leg
	// Movement is the first leg that moved goods: export, transit, import
	// or receipt.
	Movement *Leg
	// Closed is the incident that ended the shipment (seizure or stopped
	// shipment), so no arrival is expected.
	Closed *Leg
}

// Licence is a licence as the registry holds it now.
type Licence struct {
	// Number and IssuingCountry identify the licence.
	Number         string
	IssuingCountry string
	// Holder is the licensed operator.
	Holder Party
	// CAS are catalogue CAS numbers.
	CAS []string
	// ValidFrom and ValidUntil bound its validity; zero is open-ended.
	ValidFrom  time.Time
	ValidUntil time.Time
	// RevokedAt is when a revocation took effect; zero if none.
	RevokedAt time.Time
	// Index is the log index of the latest entry about the licence.
	Index uint64
}

// covers reports whether the licence lists cas.
func (l Licence) covers(cas string) bool {
	for _, c := range l.CAS {
		if c == cas {
			return true
		}
	}
	return false
}

// ALR is an annual legitimate requirement recorded in the log.
type ALR struct {
	// KG is the requirement in kg of pure substance a year.
	KG float64
	// Year is the first year it applies to.
	Year int
	// Index is the registry entry's log index.
	Index uint64
}

// Cumulative is a running total of imports.
type Cumulative struct {
	// KG is the total in kg of pure substance.
	KG float64
	// Evidence are the log indexes of the entries summed, in log order.
	Evidence []uint64
}

// Order is a notification or declaration naming a consignee: the entry's
// index and kind, the shipment, catalogue CAS, kg of pure substance,
// exporter and occurred time.
type Order struct {
	// Under is true for a notification or export declaration below the
	// chemical's reporting threshold for its importing country (R11).
	Under    bool
	Index    uint64
	Kind     chemledgerv1.EventKind
	Ref      string
	CAS      string
	KG       float64
	Exporter *Party
	Occurred time.Time
}

// Refusal is a refused or stopped shipment: the entry's index, what it
// was, the shipment, catalogue CAS, exporter and occurred time.
type Refusal struct {
	Index uint64
	// What is the reply (an objection) or the incident kind (stopped
	// shipment, seizure).
	Reply    chemledgerv1.PenReply
	Incident chemledgerv1.IncidentKind
	Ref      string
	CAS      string
	Exporter *Party
	Occurred time.Time
}

// Sighting is a party's first appearance: when it happened and the entry.
// Registry is true when the entry is a registry one (a licence), which
// dates the party from the registry's own records rather than from when the
// log happened to start.
type Sighting struct {
	Occurred time.Time
	Index    uint64
	Registry bool
}

// WatchEntry is a party on a watch list.
type WatchEntry struct {
	// Key is the list, the normalised name and the country (the
	// identifiers when the entry names no one).
	Key string
	// List names the list, for example "OFAC-SDN".
	List string
	// Party is the listed party, normalised.
	Party Party
	// Aliases are the other names as listed; AliasNorms the same
	// normalised.
	Aliases    []string
	AliasNorms []string
	// Reason is why the party is listed; Index the entry's log index.
	Reason string
	Index  uint64
}

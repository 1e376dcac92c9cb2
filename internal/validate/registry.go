package validate

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/chemledger/chemledger/internal/refdata"
	"github.com/chemledger/chemledger/pki"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Limits on registry entries and dispositions.
const (
	// MaxLicenceCAS bounds the chemicals one licence lists.
	MaxLicenceCAS = 64
	// MaxAliases bounds a watch-list entry's other names.
	MaxAliases = 32
	// MaxListNameChars bounds a watch list's name.
	MaxListNameChars = 64
	// MaxReasonChars bounds a watch-list entry's reason.
	MaxReasonChars = 1024
	// MaxAnnualKilograms bounds an annual requirement (a country's whole
	// year, in kg of pure substance).
	MaxAnnualKilograms = 1e10
	// MaxDispositionNoteBytes bounds an analyst's note.
	MaxDispositionNoteBytes = 4096
)

// RegistryEntry returns nil if r is a valid registry entry, and otherwise a
// *badinput.Error listing every violation, with field paths under
// "registry".
func RegistryEntry(r *v1.RegistryEntry) error {
	c := &checker{}
	if r == nil {
		c.add("registry", "is required")
		return c.l.Err()
	}
	c.text("registry.entry_id", r.GetEntryId(), true, MaxEventIDChars, printable)
	c.timestamp("registry.effective_time", r.GetEffectiveTime(), true)
	switch ch := r.GetChange().(type) {
	case *v1.RegistryEntry_Licence:
		c.licence(ch.Licence)
	case *v1.RegistryEntry_WatchListEntry:
		c.watchListEntry(ch.WatchListEntry)
	case *v1.RegistryEntry_AnnualRequirement:
		c.annualRequirement(ch.AnnualRequirement)
	case *v1.RegistryEntry_MemberKey:
		c.memberKey(ch.MemberKey)
	case *v1.RegistryEntry_MemberRole:
		c.memberRole(ch.MemberRole)
	case *v1.RegistryEntry_CertificateRevocation:
		c.certificateRevocation(ch.CertificateRevocation)
	case *v1.RegistryEntry_Membership:
		c.membership(ch.Membership)
	case *v1.RegistryEntry_Webhook:
		c.webhook(ch.Webhook)
	case *v1.RegistryEntry_ReferenceUpdate:
		c.referenceUpdate(ch.ReferenceUpdate)
	default:
		c.add("registry.change", "is required: a licence, a watch_list_entry, an annual_requirement, a member_key, a member_role, a certificate_revocation, a membership, a webhook or a reference_update")
	}
	return c.l.Err()
}

func (c *checker) licence(l *v1.Licence) {
	const f = "registry.licence"
	c.text(f+".number", l.GetNumber(), true, MaxAuthorisationNumberChars, printable)
	c.country(f+".issuing_country", l.GetIssuingCountry(), true)
	if l.GetHolder() == nil {
		c.add(f+".holder", "is required: the licensed operator")
	} else {
		c.party(f+".holder", l.GetHolder())
	}
	switch n := len(l.GetCas()); {
	case n == 0:
		c.add(f+".cas", "is required: the CAS registry numbers the licence covers")
	case n > MaxLicenceCAS:
		c.add(f+".cas", "has %d entries; at most %d are allowed", n, MaxLicenceCAS)
	default:
		for i, cas := range l.GetCas() {
			c.cas(fmt.Sprintf("%s.cas[%d]", f, i), cas)
		}
	}
	from := c.timestamp(f+".valid_from", l.GetValidFrom(), true)
	until := c.timestamp(f+".valid_until", l.GetValidUntil(), true)
	if from && until && !l.GetValidUntil().AsTime().After(l.GetValidFrom().AsTime()) {
		c.add(f+".valid_until", "is not after valid_from")
	}
}

func (c *checker) watchListEntry(w *v1.WatchListEntry) {
	const f = "registry.watch_list_entry"
	if w.GetParty() == nil {
		c.add(f+".party", "is required")
	} else {
		p := w.GetParty()
		// A listed party's country may be unknown.
		c.text(f+".party.name", p.GetName(), true, MaxPartyNameChars, printable)
		c.country(f+".party.country", p.GetCountry(), false)
		c.text(f+".party.address", p.GetAddress(), false, MaxAddressChars, plain)
	}
	if n := len(w.GetAliases()); n > MaxAliases {
		c.add(f+".aliases", "has %d entries; at most %d are allowed", n, MaxAliases)
	} else {
		for i, a := range w.GetAliases() {
			c.text(fmt.Sprintf("%s.aliases[%d]", f, i), a, true, MaxPartyNameChars, printable)
		}
	}
	c.text(f+".list", w.GetList(), true, MaxListNameChars, printable)
	c.text(f+".reason", w.GetReason(), false, MaxReasonChars, plain)
}

func (c *checker) annualRequirement(a *v1.AnnualRequirement) {
	const f = "registry.annual_requirement"
	c.country(f+".country", a.GetCountry(), true)
	c.cas(f+".cas", a.GetCas())
	if kg := a.GetKilograms(); math.IsNaN(kg) || kg < 0 || kg > MaxAnnualKilograms {
		c.add(f+".kilograms", "%v is out of range: want 0 to %g kg of pure substance", kg, float64(MaxAnnualKilograms))
	}
	if y := a.GetYear(); y < 1990 || y > 2100 {
		c.add(f+".year", "%d is out of range: want 1990 to 2100", y)
	}
}

// Limits on reference updates.
const (
	// MaxReferenceCAS bounds the chemicals a PEN requirement lists.
	MaxReferenceCAS = 256
	// MaxSynthesisSteps bounds a synthesis set's steps (detect's limit).
	MaxSynthesisSteps = 64
	// MaxSetIDChars bounds a synthesis set's id.
	MaxSetIDChars = 64
	// MaxSetNameChars bounds a synthesis set's name.
	MaxSetNameChars = 256
	// MaxReferenceKilograms bounds a reporting threshold (detect's limit).
	MaxReferenceKilograms = 1e9
)

// referenceUpdate checks what detect.ValidateReference checks, with field
// paths: the detector skips an update that does not pass, so the server
// must refuse it first.
func (c *checker) referenceUpdate(u *v1.ReferenceUpdate) {
	const f = "registry.reference_update"
	from := c.timestamp(f+".valid_from", u.GetValidFrom(), false) && u.GetValidFrom() != nil
	until := c.timestamp(f+".valid_until", u.GetValidUntil(), false) && u.GetValidUntil() != nil
	if from && until && u.GetValidUntil().AsTime().Before(u.GetValidFrom().AsTime()) {
		c.add(f+".valid_until", "is before valid_from")
	}
	catalogued := func(field, cas string) {
		if _, ok := refdata.ChemicalByCAS(cas); !ok {
			c.add(field, "%s is not in the chemical catalogue (refdata %s)", quote(cas), refdata.Version)
		}
	}
	switch u.GetKind() {
	case v1.ReferenceUpdate_KIND_PEN_REQUIREMENT:
		c.country(f+".country", u.GetCountry(), true)
		switch n := len(u.GetCas()); {
		case n == 0 && !u.GetRemoved():
			c.add(f+".cas", "is required: the chemicals the country requires a PEN for, TABLE_I or TABLE_II (or set removed)")
		case n > MaxReferenceCAS:
			c.add(f+".cas", "has %d entries; at most %d are allowed", n, MaxReferenceCAS)
		default:
			for i, cas := range u.GetCas() {
				if cas != "TABLE_I" && cas != "TABLE_II" {
					catalogued(fmt.Sprintf("%s.cas[%d]", f, i), cas)
				}
			}
		}
	case v1.ReferenceUpdate_KIND_SYNTHESIS_SET:
		c.text(f+".set_id", u.GetSetId(), true, MaxSetIDChars, printable)
		if u.GetRemoved() {
			break
		}
		c.text(f+".set_name", u.GetSetName(), true, MaxSetNameChars, printable)
		switch n := len(u.GetSteps()); {
		case n < 2:
			c.add(f+".steps", "has %d entries; a synthesis set needs at least 2", n)
		case n > MaxSynthesisSteps:
			c.add(f+".steps", "has %d entries; at most %d are allowed", n, MaxSynthesisSteps)
		default:
			seen := map[string]bool{}
			for i, st := range u.GetSteps() {
				sf := fmt.Sprintf("%s.steps[%d].cas", f, i)
				if len(st.GetCas()) == 0 {
					c.add(sf, "is required: the chemicals of the step")
				}
				if len(st.GetCas()) > MaxReferenceCAS {
					c.add(sf, "has %d entries; at most %d are allowed", len(st.GetCas()), MaxReferenceCAS)
					continue
				}
				for j, cas := range st.GetCas() {
					cf := fmt.Sprintf("%s[%d]", sf, j)
					ch, ok := refdata.ChemicalByCAS(cas)
					switch {
					case !ok:
						catalogued(cf, cas)
					case seen[ch.CAS]:
						c.add(cf, "%s is listed twice in the set", quote(cas))
					default:
						seen[ch.CAS] = true
					}
				}
			}
		}
	case v1.ReferenceUpdate_KIND_REPORTING_THRESHOLD:
		if n := len(u.GetCas()); n != 1 {
			c.add(f+".cas", "has %d entries; a reporting threshold names exactly one chemical", n)
		} else {
			catalogued(f+".cas[0]", u.GetCas()[0])
		}
		if kg := u.GetKilograms(); math.IsNaN(kg) || kg < 0 || kg > MaxReferenceKilograms {
			c.add(f+".kilograms", "%v is out of range: want 0 to %g kg of pure substance", kg, float64(MaxReferenceKilograms))
		}
	case v1.ReferenceUpdate_KIND_LICENCE_REGISTER:
		c.country(f+".country", u.GetCountry(), true)
	default:
		c.add(f+".kind", "is required: KIND_PEN_REQUIREMENT, KIND_SYNTHESIS_SET, KIND_REPORTING_THRESHOLD or KIND_LICENCE_REGISTER")
	}
}

// serialPattern is a certificate serial in lower-case hexadecimal.
var serialPattern = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// keyIDPattern is a key id as envelopes name it.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:+/=-]{1,128}$`)

func (c *checker) member(field, id string) {
	if !pki.MemberIDPattern.MatchString(id) {
		c.add(field, "%s is not a member id: want a country code, a dash and an agency name in capitals, like US-CBP", quote(id))
	}
}

func (c *checker) memberKey(k *v1.MemberKey) {
	const f = "registry.member_key"
	c.member(f+".member", k.GetMember())
	if !keyIDPattern.MatchString(k.GetKeyId()) {
		c.add(f+".key_id", "%s is not a key id: 1 to 128 letters, digits and ._:+/=-", quote(k.GetKeyId()))
	}
	switch n := len(k.GetEd25519()); {
	case k.GetRevoked() && n != 0:
		c.add(f+".ed25519", "must be empty when revoking a key")
	case !k.GetRevoked() && n != 32:
		c.add(f+".ed25519", "is %d bytes; an Ed25519 public key is 32", n)
	}
}

func (c *checker) memberRole(r *v1.MemberRole) {
	const f = "registry.member_role"
	c.member(f+".member", r.GetMember())
	if !slices.Contains(pki.Roles, r.GetRole()) {
		c.add(f+".role", "%s is not a role: %s", quote(r.GetRole()), strings.Join(pki.Roles, ", "))
	}
}

func (c *checker) certificateRevocation(r *v1.CertificateRevocation) {
	const f = "registry.certificate_revocation"
	c.member(f+".member", r.GetMember())
	if !serialPattern.MatchString(r.GetSerial()) {
		c.add(f+".serial", "%s is not a certificate serial: lower-case hexadecimal", quote(r.GetSerial()))
	}
	c.text(f+".reason", r.GetReason(), false, MaxReasonChars, printable)
}

// MaxMemberKeys bounds the signing keys a member joins with.
const MaxMemberKeys = 8

// MaxAgencyChars bounds an agency's name.
const MaxAgencyChars = 200

func (c *checker) membership(m *v1.Membership) {
	const f = "registry.membership"
	c.member(f+".member", m.GetMember())
	join := m.GetAction() == v1.MembershipAction_MEMBERSHIP_ACTION_JOIN
	switch m.GetAction() {
	case v1.MembershipAction_MEMBERSHIP_ACTION_JOIN, v1.MembershipAction_MEMBERSHIP_ACTION_REINSTATE:
	case v1.MembershipAction_MEMBERSHIP_ACTION_SUSPEND, v1.MembershipAction_MEMBERSHIP_ACTION_REMOVE:
		c.text(f+".reason", m.GetReason(), true, MaxReasonChars, printable)
	default:
		c.add(f+".action", "must be JOIN, SUSPEND, REINSTATE or REMOVE")
	}
	if !join {
		// Only a join describes the member; anything else here would be
		// a second, unchecked description of it.
		for _, x := range []struct {
			field string
			set   bool
		}{
			{"country", m.GetCountry() != ""}, {"agency", m.GetAgency() != ""}, {"roles", len(m.GetRoles()) > 0},
			{"keys", len(m.GetKeys()) > 0}, {"certificate_identity", m.GetCertificateIdentity() != ""},
		} {
			if x.set {
				c.add(f+"."+x.field, "is set only when a member joins")
			}
		}
		return
	}
	c.country(f+".country", m.GetCountry(), true)
	if id := m.GetMember(); m.GetCountry() != "" && !strings.HasPrefix(id, m.GetCountry()+"-") {
		c.add(f+".country", "%s does not match the member id %s, which must start with the country code", quote(m.GetCountry()), quote(id))
	}
	c.text(f+".agency", m.GetAgency(), true, MaxAgencyChars, printable)
	seenRole := map[string]bool{}
	for i, r := range m.GetRoles() {
		switch {
		case !slices.Contains(pki.Roles, r):
			c.add(fmt.Sprintf("%s.roles[%d]", f, i), "%s is not a role: %s", quote(r), strings.Join(pki.Roles, ", "))
		case seenRole[r]:
			c.add(fmt.Sprintf("%s.roles[%d]", f, i), "%s is listed twice", quote(r))
		}
		seenRole[r] = true
	}
	switch n := len(m.GetKeys()); {
	case n == 0:
		c.add(f+".keys", "is required: at least one Ed25519 signing key")
	case n > MaxMemberKeys:
		c.add(f+".keys", "lists %d keys; at most %d", n, MaxMemberKeys)
	}
	seenKey := map[string]bool{}
	for i, k := range m.GetKeys() {
		kf := fmt.Sprintf("%s.keys[%d]", f, i)
		if !keyIDPattern.MatchString(k.GetKeyId()) {
			c.add(kf+".key_id", "%s is not a key id: 1 to 128 letters, digits and ._:+/=-", quote(k.GetKeyId()))
		} else if seenKey[k.GetKeyId()] {
			c.add(kf+".key_id", "%s is listed twice", quote(k.GetKeyId()))
		}
		seenKey[k.GetKeyId()] = true
		if n := len(k.GetEd25519()); n != 32 {
			c.add(kf+".ed25519", "is %d bytes; an Ed25519 public key is 32", n)
		}
	}
	if want := pki.IdentityURIPrefix + m.GetMember(); m.GetCertificateIdentity() != want {
		c.add(f+".certificate_identity", "%s is not the member's certificate identity; want %s", quote(m.GetCertificateIdentity()), quote(want))
	}
}

// cas checks a CAS registry number that must be in the catalogue.
func (c *checker) cas(field, cas string) {
	switch {
	case cas == "":
		c.add(field, "is required: a CAS registry number, for example \"39742-60-4\"")
	case !refdata.ValidCASFormat(cas):
		c.add(field, "%s is not a CAS registry number", quote(cas))
	case !refdata.ValidCASCheckDigit(cas):
		c.add(field, "%s has a wrong check digit", quote(cas))
	default:
		if _, ok := refdata.ChemicalByCAS(cas); !ok {
			c.add(field, "%s is not a chemical the catalogue lists (reference data %s)", quote(cas), refdata.Version)
		}
	}
}

// flagIDPattern is the shape of a flag id: a rule id, a dash and hex digits.
var flagIDPattern = regexp.MustCompile(`^R[0-9]{1,2}[A-Z]?-[0-9a-f]{8,64}$`)

// Disposition returns nil if d is a valid disposition, and otherwise a
// *badinput.Error with field paths under "disposition". Whether the flag
// exists is the caller's question.
func Disposition(d *v1.Disposition) error {
	c := &checker{}
	if d == nil {
		c.add("disposition", "is required")
		return c.l.Err()
	}
	if id := d.GetFlagId(); !flagIDPattern.MatchString(id) {
		c.add("disposition.flag_id", "%s is not a flag id (a rule id, a dash and hex digits, such as \"R1-3f9a0c2b1d4e\")", quote(id))
	}
	switch d.GetStatus() {
	case v1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED, v1.DispositionStatus_DISPOSITION_STATUS_DISMISSED, v1.DispositionStatus_DISPOSITION_STATUS_ESCALATED:
	default:
		c.add("disposition.status", "must be CONFIRMED, DISMISSED or ESCALATED")
	}
	if len(d.GetNote()) > MaxDispositionNoteBytes {
		c.add("disposition.note", "is %d bytes; at most %d are allowed", len(d.GetNote()), MaxDispositionNoteBytes)
	} else {
		c.text("disposition.note", d.GetNote(), true, MaxDispositionNoteBytes, multiline)
	}
	return c.l.Err()
}

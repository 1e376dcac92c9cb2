package validate

// Limits on the fields of a ShipmentEvent. Lengths in "Chars" are counted in
// Unicode code points; remarks are counted in bytes because they are the one
// large free-text field and bytes are what storage and replicas pay for.
// Every bound is well above any real declaration, so hitting one means a
// broken or hostile submitter, not an unusual shipment.
const (
	// MaxEventIDChars bounds event_id, a national declaration number or
	// similar.
	MaxEventIDChars = 128
	// MaxShipmentRefChars bounds shipment_ref (PEN reference or WCO UCR;
	// the UCR is at most 35 characters).
	MaxShipmentRefChars = 64
	// MaxChemicalNameChars bounds chemical.name.
	MaxChemicalNameChars = 256
	// MaxChemicalFormChars bounds chemical.form.
	MaxChemicalFormChars = 64
	// MaxQuantityValue bounds quantity.value, in the declared unit.
	MaxQuantityValue = 1e9
	// MaxPartyNameChars bounds a party's name.
	MaxPartyNameChars = 256
	// MaxAddressChars bounds a party's address.
	MaxAddressChars = 512
	// MaxIdentifiers bounds the identifiers of one party.
	MaxIdentifiers = 16
	// MaxIdentifierSchemeChars bounds an identifier's scheme.
	MaxIdentifierSchemeChars = 32
	// MaxIdentifierValueChars bounds an identifier's value.
	MaxIdentifierValueChars = 64
	// MaxEORIChars is the longest EORI number: a 2-letter country code and
	// up to 15 alphanumerics (domain.md §10).
	MaxEORIChars = 17
	// MaxIntermediaries bounds intermediaries.
	MaxIntermediaries = 16
	// MaxRouteLegs bounds route.
	MaxRouteLegs = 32
	// MaxAuthorisations bounds authorisations.
	MaxAuthorisations = 16
	// MaxAuthorisationNumberChars bounds an authorisation number.
	MaxAuthorisationNumberChars = 64
	// MaxReferences bounds references.
	MaxReferences = 16
	// MaxAmountChars bounds declared_value.amount.
	MaxAmountChars = 32
	// MaxAmountDecimals is the most digits declared_value.amount may have
	// after the decimal point.
	MaxAmountDecimals = 4
	// MaxPaymentMethodChars bounds payment_method.
	MaxPaymentMethodChars = 64
	// MaxRemarksBytes bounds remarks, in bytes of UTF-8.
	MaxRemarksBytes = 4096
	// MaxPackagesChars bounds packages.
	MaxPackagesChars = 128
	// MinTimeUnix is the earliest timestamp accepted, 1990-01-01T00:00:00Z
	// (before the 1988 Convention's tables were in force anywhere, so an
	// earlier time is a typo or a zero value).
	MinTimeUnix = 631152000
	// MaxTimeUnix is the first timestamp refused, 2100-01-01T00:00:00Z.
	MaxTimeUnix = 4102444800
)

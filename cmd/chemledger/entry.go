package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Output formats of get and list: text for people, json for programs
// (the whole Entry, with the exact envelope bytes in base64).
const (
	outputText = "text"
	outputJSON = "json"
)

func checkOutput(v string) error {
	if v != outputText && v != outputJSON {
		return fmt.Errorf("--output %q: want text or json", v)
	}
	return nil
}

// payloadOf is what an entry says, decoded: its shipment event, registry
// entry or disposition (nil when the service could not decode it).
func payloadOf(e *chemledgerv1.Entry) proto.Message {
	switch {
	case e.GetEvent() != nil:
		return e.GetEvent()
	case e.GetRegistry() != nil:
		return e.GetRegistry()
	case e.GetDisposition() != nil:
		return e.GetDisposition()
	}
	return nil
}

// entryKind is an entry's kind in one word, as list filters name it.
func entryKind(e *chemledgerv1.Entry) string {
	switch {
	case e.GetEvent() != nil:
		return kindName(e.GetEvent().GetKind())
	case e.GetRegistry() != nil:
		r := e.GetRegistry()
		switch {
		case r.GetLicence() != nil:
			return "REGISTRY_LICENCE"
		case r.GetWatchListEntry() != nil:
			return "REGISTRY_WATCH_LIST"
		case r.GetAnnualRequirement() != nil:
			return "REGISTRY_ANNUAL_REQUIREMENT"
		case r.GetMemberKey() != nil:
			return "REGISTRY_MEMBER_KEY"
		case r.GetMemberRole() != nil:
			return "REGISTRY_MEMBER_ROLE"
		case r.GetCertificateRevocation() != nil:
			return "REGISTRY_CERTIFICATE_REVOCATION"
		}
		return "REGISTRY"
	case e.GetDisposition() != nil:
		return "DISPOSITION"
	}
	return "UNDECODED"
}

// printEntry prints one entry for a person: what it says first (the
// decoded payload, indented JSON), then where it sits in the log. The
// envelope's bytes are left out; --output json has them.
func printEntry(w io.Writer, e *chemledgerv1.Entry) error {
	fmt.Fprintf(w, "entry %d: %s", e.GetIndex(), entryKind(e))
	if ref := e.GetEvent().GetShipmentRef(); ref != "" {
		fmt.Fprintf(w, " of shipment %s", ref)
	}
	if id := e.GetDisposition().GetFlagId(); id != "" {
		fmt.Fprintf(w, " of flag %s", id)
	}
	fmt.Fprintln(w)
	if p := payloadOf(e); p != nil {
		b, err := protojson.Marshal(p)
		if err != nil {
			return err
		}
		// Re-indented with encoding/json: protojson varies its whitespace
		// from build to build on purpose, and a person (or grep) reading
		// this wants "key": value spaced the same every time.
		var ind bytes.Buffer
		if err := json.Indent(&ind, b, "", "  "); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", ind.Bytes())
	} else {
		fmt.Fprintf(w, "(the service could not decode its %s payload)\n", orDash(e.GetPayloadType()))
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "member\t%s\n", e.GetMember())
	fmt.Fprintf(tw, "integrated\t%s\n", timestamp(e.GetIntegratedTime()))
	fmt.Fprintf(tw, "submission id\t%s\n", e.GetSubmissionId())
	fmt.Fprintf(tw, "payload type\t%s\n", e.GetPayloadType())
	fmt.Fprintf(tw, "leaf hash\t%s\n", hex.EncodeToString(e.GetLeafHash()))
	return tw.Flush()
}

// entryRow is one entry as a table row, what it says first: kind,
// shipment, chemical, quantity, route and when it happened; then its index,
// member and integration time.
func entryRow(e *chemledgerv1.Entry) string {
	ev := e.GetEvent()
	subject, chemical, quantity, route, occurred := "-", "-", "-", "-", "-"
	switch {
	case ev != nil:
		subject = orDash(ev.GetShipmentRef())
		if c := ev.GetChemical(); c != nil {
			chemical = orDash(c.GetName())
			if c.GetCas() != "" && c.GetName() != "" {
				chemical += " (" + c.GetCas() + ")"
			} else if c.GetCas() != "" {
				chemical = c.GetCas()
			}
		}
		if q := ev.GetQuantity(); q != nil {
			quantity = strings.TrimSpace(fmt.Sprintf("%g %s", q.GetValue(), q.GetUnit()))
		}
		if from, to := ev.GetExporter().GetCountry(), ev.GetImporter().GetCountry(); from != "" || to != "" {
			route = orDash(from) + "→" + orDash(to)
		}
		occurred = timestamp(ev.GetOccurredTime())
	case e.GetRegistry() != nil:
		subject = orDash(e.GetRegistry().GetEntryId())
		occurred = timestamp(e.GetRegistry().GetEffectiveTime())
	case e.GetDisposition() != nil:
		subject = orDash(e.GetDisposition().GetFlagId())
		quantity = strings.TrimPrefix(e.GetDisposition().GetStatus().String(), "DISPOSITION_STATUS_")
	}
	return strings.Join([]string{entryKind(e), subject, chemical, quantity, route, occurred,
		fmt.Sprint(e.GetIndex()), e.GetMember(), timestamp(e.GetIntegratedTime())}, "\t")
}

const entryHeader = "KIND\tSUBJECT\tCHEMICAL\tQUANTITY\tROUTE\tOCCURRED\tINDEX\tMEMBER\tINTEGRATED"

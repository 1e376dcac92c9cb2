package detect

import (
	"slices"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// evalShipmentAfterObjection is R3: goods moved although the importing
// country objected.
func evalShipmentAfterObjection(c *evalCtx) {
	l := c.leg
	sh, ok := c.v.Shipment(l.Ref)
	if !ok {
		return
	}
	var objection, movement *Leg
	var text string
	switch {
	case isMovement(l.Kind) && sh.Reply != nil && sh.Reply.Reply == chemledgerv1.PenReply_PEN_REPLY_OBJECTION:
		objection, movement = sh.Reply, l
		text = "the " + kindText(l.Kind) + " of " + day(l.Occurred) + " (entry " + idx(l.Index) + ") shows the goods moving after it"
	case l.Kind == chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY && l.Reply == chemledgerv1.PenReply_PEN_REPLY_OBJECTION && sh.Movement != nil:
		objection, movement = l, sh.Movement
		text = "the " + kindText(movement.Kind) + " of " + day(movement.Occurred) + " (entry " + idx(movement.Index) + ") had already recorded the goods moving, so the consignment is under way against the objection and should be stopped"
	default:
		return
	}
	ev := []uint64{objection.Index, movement.Index}
	if sh.PEN != nil {
		ev = append(ev, sh.PEN.Index)
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: legCountries(objection, movement, sh.PEN),
		evidence: ev,
		vars: []string{
			"ref", l.Ref, "chemical", l.Chemical, "cas", l.CAS,
			"objection_index", idx(objection.Index), "objection_date", day(objection.Occurred),
			"movement_text", text,
		},
	})
}

// evalNoPEN is R4: an export declaration to a country that requires a
// pre-export notification, with none recorded before it.
func evalNoPEN(c *evalCtx) {
	l := c.leg
	if l.Kind != chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION {
		return
	}
	country := l.Importer.Country
	if country == "" {
		country = l.Consignee.Country
	}
	required, note := c.e.penRequired(c.v, country, l.CAS, l.Occurred)
	if !required {
		return
	}
	if sh, ok := c.v.Shipment(l.Ref); ok && sh.PEN != nil {
		return
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: legCountries(l),
		evidence: []uint64{l.Index},
		vars: []string{
			"ref", l.Ref, "quantity", l.Amount.Declared(), "chemical", l.Chemical, "cas", l.CAS,
			"exporter_country", countryText(l.Exporter.Country), "importer_country", country,
			"export_index", idx(l.Index), "export_date", day(l.Occurred), "matrix_note", note,
		},
	})
}

// replyDeadline is when the importing country's reply period for a
// notification ends: its own reply-by date, else default_reply_days after
// it. A notification without a date still gives the importing country time
// to answer; the 1988 Convention sets no deadline, so the policy does.
func replyDeadline(p *Leg, th *tvals) (time.Time, bool) {
	if !p.ReplyBy.IsZero() {
		return p.ReplyBy, true
	}
	return p.Occurred.Add(days(th.get("default_reply_days"))), false
}

// evalNoReply is R5: exported after the reply period ended with no reply
// recorded (silence taken as consent).
func evalNoReply(c *evalCtx) {
	l := c.leg
	if l.Kind != chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION {
		return
	}
	sh, ok := c.v.Shipment(l.Ref)
	if !ok || sh.PEN == nil || sh.Reply != nil {
		return
	}
	p := sh.PEN
	th := c.th()
	deadline, stated := replyDeadline(p, &th)
	if !l.Occurred.After(deadline) {
		return // R5A's case: exported before the period ended
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: legCountries(p, l),
		evidence: []uint64{p.Index, l.Index}, th: th,
		vars: []string{
			"ref", l.Ref, "chemical", l.Chemical, "cas", l.CAS, "pen_index", idx(p.Index),
			"importer_country", countryText(importingCountry(p)), "deadline_text", deadlineText(p, deadline, stated),
			"export_date", day(l.Occurred), "export_index", idx(l.Index),
		},
	})
}

// evalExportedBeforeReply is R5A: the goods were declared for export while
// the importing country could still answer and had not, or while its
// request for more information stood unanswered. The exporter did not wait
// for the answer the notification asked for, which is graver than reading
// silence after the deadline as consent (R5).
func evalExportedBeforeReply(c *evalCtx) {
	l := c.leg
	if l.Kind != chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION {
		return
	}
	sh, ok := c.v.Shipment(l.Ref)
	if !ok || sh.PEN == nil {
		return
	}
	p := sh.PEN
	th := c.th()
	deadline, stated := replyDeadline(p, &th)
	ev := []uint64{p.Index, l.Index}
	var text string
	switch {
	case sh.Reply == nil && l.Occurred.Before(deadline):
		text = "before the importing country's reply period ended (" + deadlineText(p, deadline, stated) + ") and before any reply"
	case sh.Reply != nil && sh.Reply.Reply == chemledgerv1.PenReply_PEN_REPLY_INFORMATION_REQUESTED:
		// The latest reply asks for more: the importing country has not
		// cleared the shipment, whatever the deadline said.
		ev = append(ev, sh.Reply.Index)
		text = "while the importing country's request for more information of " + day(sh.Reply.Occurred) +
			" (entry " + idx(sh.Reply.Index) + ") was still unanswered"
	default:
		return
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: legCountries(p, l),
		evidence: ev, th: th,
		vars: []string{
			"ref", l.Ref, "chemical", l.Chemical, "cas", l.CAS, "pen_index", idx(p.Index), "pen_date", day(p.Occurred),
			"importer_country", countryText(importingCountry(p)), "wait_text", text,
			"export_date", day(l.Occurred), "export_index", idx(l.Index),
		},
	})
}

// sharesID reports whether two parties of one country carry an identical
// identifier (tax number, EORI, licence number): the same company, however
// differently a national system writes its name.
func sharesID(a, b *Party) bool {
	if a.Country != b.Country {
		return false
	}
	for _, id := range a.IDs {
		if slices.Contains(b.IDs, id) {
			return true
		}
	}
	return false
}

func deadlineText(p *Leg, deadline time.Time, stated bool) string {
	if stated {
		return "the notification asked for a reply by " + day(deadline)
	}
	return "the notification set no reply-by date, so the policy's period ended on " + day(deadline)
}

// evalConsigneeChanged is R7: a later leg names a different ultimate
// consignee than the notification.
func evalConsigneeChanged(c *evalCtx) {
	l := c.leg
	if !isMovement(l.Kind) || !l.ConsigneeStated {
		return
	}
	sh, ok := c.v.Shipment(l.Ref)
	if !ok || sh.PEN == nil || !sh.PEN.ConsigneeStated {
		return
	}
	p := sh.PEN
	th := c.th()
	if sharesID(p.Consignee, l.Consignee) {
		return // one company, named in another script or transliteration
	}
	if p.Consignee.Country == l.Consignee.Country {
		// A name that matches only through look-alike letters (a Cyrillic
		// "о" for a Latin "o") is another company posing as the notified
		// one: the swap this rule exists for.
		if _, same := similarEnough(p.Consignee.Norm, l.Consignee.Norm, th.get("name_similarity")); same && !lookAlike(p.Consignee, l.Consignee) {
			return
		}
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: legCountries(p, l),
		evidence: []uint64{p.Index, l.Index}, th: th,
		vars: []string{
			"ref", l.Ref, "chemical", l.Chemical, "cas", l.CAS, "pen_index", idx(p.Index),
			"pen_consignee", partyText(p.Consignee), "pen_country", countryText(p.Consignee.Country),
			"kind", kindText(l.Kind), "date", day(l.Occurred), "index", idx(l.Index),
			"consignee", partyText(l.Consignee) + lookAlikeNote(l.Consignee.Name), "consignee_country", countryText(l.Consignee.Country),
		},
	})
}

package detect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chemledger/chemledger/detect"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func TestR6UnlicensedConsignee(t *testing.T) {
	de := party("Berliner Arzneimittelwerk GmbH", "DE", "EORI", "DE123456789")
	deByLicence := party("BAW Berlin", "DE", "LICENCE", "de-bfarm-0042")
	runRuleCases(t, "R6", []ruleCase{
		{name: "no licence on file", wantSev: detect.SeverityCritical, entries: []entry{
			E(imp("S1", 20, to(de))),
		}},
		{name: "licence expired", wantSev: detect.SeverityCritical, entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 10)), E(receipt("S1", 20, to(de))),
		}},
		{name: "licence revoked before", wantSev: detect.SeverityCritical, entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), R(revoke("DE-BFARM-0042", "DE", de, 15)), E(imp("S1", 20, to(de))),
		}},
		{name: "licence for other chemicals", wantSev: detect.SeverityCritical, entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{pseudoephedrine}, -400, 400)), E(imp("S1", 20, to(de))),
		}},
		{name: "chemical outside Table I is high", wantSev: detect.SeverityHigh, entries: []entry{
			E(imp("S1", 20, to(de), chem(aniline, "292141"))),
		}},
		{name: "licence valid that day", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 20)), E(imp("S1", 20, to(de))),
		}},
		{name: "matched by licence number under another name", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), E(imp("S1", 20, to(deByLicence))),
		}},
		{name: "matched by name without identifiers", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), E(imp("S1", 20, to(party("Berliner Arzneimittelwerk", "DE")))),
		}},
		{name: "licence covers a salt of the chemical", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{fourPipHCl}, -400, 400)), E(imp("S1", 20, to(de), chem(fourPiperidone, "293339"))),
		}},
		{name: "revocation after the delivery", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), R(revoke("DE-BFARM-0042", "DE", de, 25)), E(imp("S1", 20, to(de))),
		}},
		{name: "country without a complete register", entries: []entry{
			E(imp("S1", 20)),
		}},
		{name: "export declarations are not checked", entries: []entry{
			E(export("S1", 20, to(de))),
		}},
	})
}

// TestR6LookAlikeNameDoesNotHoldLicence: a consignee whose name matches a
// licence holder's only through look-alike letters (Cyrillic "е" for Latin
// "e") is another company, not the licensed one. Name normalisation folds
// look-alikes so that screening finds a listed company however it is
// spelt; the licence check used the same folded key, so the look-alike
// held the genuine company's licence and R6 stayed silent.
func TestR6LookAlikeNameDoesNotHoldLicence(t *testing.T) {
	de := party("Berliner Arzneimittelwerk GmbH", "DE", "EORI", "DE123456789")
	const lookAlike = "B\u0435rlin\u0435r Arzn\u0435imitt\u0435lw\u0435rk GmbH"
	greek := party("\u0391\u03a1\u0396\u039d\u0395\u0399 GmbH", "DE")
	for _, tc := range []struct {
		name      string
		holder    *v1.Party
		consignee *v1.Party
		flagged   bool
	}{
		{"Cyrillic look-alike letters, no identifier", de, party(lookAlike, "DE"), true},
		{"the genuine name, no identifier", de, party("Berliner Arzneimittelwerk", "DE"), false},
		{"the look-alike with the licensed company's identifier", de, party(lookAlike, "DE", "EORI", "DE123456789"), false},
		{"the same Greek letters on both", greek, greek, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ofRule(run(t, detect.DefaultPolicy(), []entry{
				R(licence("DE-BFARM-0042", "DE", tc.holder, []string{ephedrine}, -400, 400)), E(imp("S1", 20, to(tc.consignee))),
			}, time.Time{}), "R6")
			switch {
			case tc.flagged && (len(got) != 1 || !strings.Contains(got[0].Explanation, tc.consignee.GetName())):
				t.Errorf("consignee %q, licence held by %q: R6 flags %+v; want one flag naming the consignee as declared", tc.consignee.GetName(), tc.holder.GetName(), got)
			case !tc.flagged && len(got) != 0:
				t.Errorf("consignee %q, licence held by %q: R6 flags %+v; want none", tc.consignee.GetName(), tc.holder.GetName(), got)
			}
		})
	}
}

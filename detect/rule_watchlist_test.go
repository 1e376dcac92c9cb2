package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR27WatchList(t *testing.T) {
	listed := party("Zhejiang Huayi Fine Chemical Co., Ltd.", "CN", "TAX", "91330100MA2B")
	sdn := func(d int) entry { return R(watch("OFAC-SDN", listed, d)) }
	runRuleCases(t, "R27", []ruleCase{
		{name: "same name, other punctuation and legal form", wantSev: detect.SeverityCritical, entries: []entry{
			sdn(0), E(export("S1", 10, from(party("ZHEJIANG HUAYI FINE CHEMICAL CO LTD", "CN")))),
		}},
		{name: "Cyrillic look-alike letters", wantSev: detect.SeverityCritical, entries: []entry{
			sdn(0), E(export("S1", 10, from(party("Zhеjiang Huаyi Finе Chеmicаl Cо., Ltd.", "CN")))),
		}},
		{name: "fullwidth letters", wantSev: detect.SeverityCritical, entries: []entry{
			sdn(0), E(export("S1", 10, from(party("ＺＨＥＪＩＡＮＧ　ＨＵＡＹＩ　ＦＩＮＥ　ＣＨＥＭＩＣＡＬ", "CN")))),
		}},
		{name: "one letter more", wantSev: detect.SeverityCritical, entries: []entry{
			sdn(0), E(export("S1", 10, from(party("Zhejiang Huayi Fine Chemicals Co., Ltd.", "CN")))),
		}},
		{name: "identical identifier under another name", wantSev: detect.SeverityCritical, entries: []entry{
			sdn(0), E(pen("S1", 10, from(party("Hangzhou Bright Trading", "CN", "TAX", "91330100ma2b")))),
		}},
		{name: "listed alias as intermediary", wantSev: detect.SeverityCritical, entries: []entry{
			R(watch("OFAC-SDN", party("Zhejiang Huayi Fine Chemical", ""), 0, "Huayi Global Logistics")),
			E(export("S1", 10, intermediary(party("Huayi Global Logistics Ltd", "HK")))),
		}},
		{name: "party seen before it was listed", wantSev: detect.SeverityCritical, entries: []entry{
			E(export("S1", 0, from(party("Zhejiang Huayi Fine Chemical", "CN")))), sdn(10),
		}},
		{name: "licensed party seen before it was listed cites its first event", wantSev: detect.SeverityCritical, entries: []entry{
			R(licence("CN-77", "CN", party("Zhejiang Huayi Fine Chemical", "CN"), []string{ephedrine}, -300, 400)),
			E(export("S1", 0, from(party("Zhejiang Huayi Fine Chemical", "CN")))), sdn(10),
		}},
		{name: "different company with a similar prefix", entries: []entry{
			sdn(0), E(export("S1", 10, from(party("Zhejiang Huahai Pharmaceutical Co., Ltd.", "CN")))),
		}},
		{name: "similar name, different company", entries: []entry{
			sdn(0), E(export("S1", 10, from(party("Zhejiang Huayang Fine Chemical Co., Ltd.", "CN")))),
		}},
		{name: "same city, different company", entries: []entry{
			R(watch("OFAC-SDN", party("Hebei Yongan Chemical Co., Ltd.", "CN"), 0)), E(export("S1", 10, from(party("Hebei Yongkang Chemical Co., Ltd.", "CN")))),
		}},
		{name: "same name in another country", entries: []entry{
			sdn(0), E(export("S1", 10, from(party("Zhejiang Huayi Fine Chemical Co., Ltd.", "IN")))),
		}},
		{name: "removed from the list before", entries: []entry{
			sdn(0), R(unwatch("OFAC-SDN", listed, 5)), E(export("S1", 10, from(party("Zhejiang Huayi Fine Chemical Co., Ltd.", "CN")))),
		}},
	})
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "legal form with dots", in: "Química Mexicana S.A. de C.V.", want: "quimica mexicana"},
		{name: "Co., Ltd.", in: "Zhejiang Huayi Fine Chemical Co., Ltd.", want: "zhejiang huayi fine chemical"},
		{name: "GmbH & Co. KG", in: "Müller GmbH & Co. KG", want: "muller"},
		{name: "Cyrillic look-alikes", in: "Аlpеnсhеmiе АG", want: "alpenchemie"},
		{name: "Greek look-alikes", in: "ΑΒΕ ΚΟ Trading", want: "abe ko trading"},
		{name: "fullwidth", in: "ＡＢＣ　Ｃｈｅｍ　Ｌｔｄ", want: "abc chem"},
		{name: "sharp s folds", in: "Straße Chemie", want: "strasse chemie"},
		{name: "only a legal form stays", in: "Ltd.", want: "ltd"},
		{name: "Pvt. Ltd.", in: "Sun Pharma Chemicals Pvt. Ltd.", want: "sun pharma chemicals"},
		{name: "punctuation separates", in: "Alpha-Beta/Gamma (Holdings)", want: "alpha beta gamma holdings"},
		{name: "empty", in: "  ", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect.NormalizeName(tt.in); got != tt.want {
				t.Errorf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSimilarity(t *testing.T) {
	tests := []struct {
		name, a, b string
		min, max   float64
	}{
		{name: "identical after normalisation", a: "ACME Chemicals Ltd.", b: "acme chemicals", min: 1, max: 1},
		{name: "spaces do not count", a: "Sino Chem", b: "Sinochem", min: 1, max: 1},
		{name: "one typo in a long name", a: "Zhejiang Huayi Fine Chemical", b: "Zhejiang Huayi Fine Chemicals", min: 0.96, max: 0.97},
		{name: "shared prefix, different company", a: "Hebei Yongan Chemical", b: "Hebei Yongkang Chemical", min: 0, max: 0.89},
		{name: "unrelated", a: "Alpenchemie", b: "Rhône Synthèse", min: 0, max: 0.4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect.Similarity(tt.a, tt.b); got < tt.min || got > tt.max {
				t.Errorf("Similarity(%q, %q) = %v, want in [%v, %v]", tt.a, tt.b, got, tt.min, tt.max)
			}
		})
	}
}

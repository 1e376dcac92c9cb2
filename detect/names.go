package detect

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NormalizeName reduces a company or person name to the form that rules
// compare: compatibility-decomposed (fullwidth and other compatibility forms
// become their plain letters), accents dropped, Cyrillic and Greek
// look-alikes mapped to the Latin letters they imitate, case-folded,
// punctuation removed, trailing legal forms ("S.A. de C.V.", "Co., Ltd.",
// "GmbH", "LLC", ...) stripped, and spaces collapsed. Evasion by spelling a
// listed name with Cyrillic "а" and "о", or with a different legal form, then
// lands on the same string.
func NormalizeName(s string) string { return normalizeName(s, true) }

// setKeys sets a party's Key and Letters from its normalised name.
func (p *Party) setKeys() {
	p.Key = compactName(p.Norm) + "|" + p.Country
	p.Letters = compactName(normalizeName(p.Name, false)) + "|" + p.Country
}

// lookAlike reports whether two parties are the same only once look-alike
// letters are mapped: one posing as the other.
func lookAlike(a, b *Party) bool { return a.Key == b.Key && a.Letters != b.Letters }

// lookAlikeNote says which look-alike letters a name uses, for an
// explanation: on screen the two spellings cannot be told apart.
func lookAlikeNote(name string) string {
	var parts []string
	seen := map[rune]bool{}
	for _, r := range name {
		if m, ok := confusables[r]; ok && !seen[r] {
			seen[r] = true
			parts = append(parts, fmt.Sprintf("%c U+%04X for %c", r, r, m))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " — spelt with look-alike letters (" + strings.Join(parts, ", ") + ")"
}

func normalizeName(s string, foldLookAlikes bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue // accents and other combining marks
		}
		if m, ok := confusables[r]; ok && foldLookAlikes {
			r = m
		}
		b.WriteRune(r)
	}
	folded := foldCase(b.String())

	// Dots, commas and apostrophes join ("S.A." → "sa", "O'Neil" →
	// "oneil"); every other non-alphanumeric rune separates words.
	words := make([]string, 0, 8)
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			words = append(words, w.String())
			w.Reset()
		}
	}
	for _, r := range folded {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			w.WriteRune(r)
		case r == '.' || r == ',' || r == '\'' || r == '’':
		case r == '&':
			flush()
			words = append(words, "and")
		default:
			flush()
		}
	}
	flush()
	words = stripLegalForms(words)
	return strings.Join(words, " ")
}

// foldCase is Unicode full case folding ("ß" → "ss"). A cases.Caser keeps
// state, so each call makes its own.
func foldCase(s string) string { return cases.Fold().String(s) }

// compactName is the normalised name without spaces, the form similarity is
// measured on, so "Sino Chem" and "Sinochem" compare equal.
func compactName(normalised string) string {
	return strings.ReplaceAll(normalised, " ", "")
}

// stripLegalForms drops legal-form words from the end of a name, longest
// form first, until none matches, but never the whole name.
func stripLegalForms(words []string) []string {
	for {
		n := 0
		for _, form := range legalForms {
			if len(form) < len(words) && hasSuffix(words, form) {
				n = len(form)
				break
			}
		}
		if n == 0 {
			return words
		}
		words = words[:len(words)-n]
	}
}

func hasSuffix(words, suffix []string) bool {
	off := len(words) - len(suffix)
	for i, s := range suffix {
		if words[off+i] != s {
			return false
		}
	}
	return true
}

// legalForms are legal-form suffixes as word lists after normalisation,
// longest first so "s de rl de cv" is taken before "cv". They are the common
// forms of the coalition's trading countries; a name that is only a legal
// form keeps it.
var legalForms = func() [][]string {
	forms := []string{
		"s de rl de cv", "sa de cv", "sapi de cv", "s de rl", "sas de cv",
		"co ltd", "company limited", "company ltd", "co limited", "pvt ltd", "private limited",
		"pte ltd", "pty ltd", "sdn bhd", "gmbh and co kg", "gmbh co kg",
		"ltd", "limited", "co", "company", "corp", "corporation", "inc", "incorporated",
		"llc", "llp", "lp", "plc", "gmbh", "ag", "kg", "ohg", "ug", "bv", "nv", "sa", "sas", "sarl",
		"srl", "spa", "sl", "slu", "ab", "as", "asa", "oy", "oyj", "aps", "kft", "zrt", "sro",
		"doo", "ooo", "zao", "oao", "pao", "jsc", "pjsc", "ojsc", "cjsc", "tbk", "pt", "pvt",
		"pty", "ltda", "eireli", "cv", "kk", "bhd", "se",
	}
	out := make([][]string, 0, len(forms))
	for _, f := range forms {
		out = append(out, strings.Fields(f))
	}
	// Longest first; among equal lengths the order above stands.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}()

// confusables maps Cyrillic and Greek letters that look like Latin ones to
// those Latin letters, before case folding (upper-case Greek Eta looks like
// H, lower-case eta like n). It is the part of Unicode's confusables list
// that matters for company names; fullwidth forms need no entry, because
// NFKD already turns them into ASCII.
var confusables = map[rune]rune{
	// Cyrillic capitals
	'А': 'A', 'В': 'B', 'Е': 'E', 'Ѕ': 'S', 'І': 'I', 'Ј': 'J', 'К': 'K', 'М': 'M',
	'Н': 'H', 'О': 'O', 'Р': 'P', 'С': 'C', 'Т': 'T', 'У': 'Y', 'Х': 'X', 'Ү': 'Y',
	'Ԛ': 'Q', 'Ԝ': 'W', 'Һ': 'H',
	// Cyrillic small letters
	'а': 'a', 'е': 'e', 'ѕ': 's', 'і': 'i', 'ј': 'j', 'о': 'o', 'р': 'p', 'с': 'c',
	'у': 'y', 'х': 'x', 'ү': 'y', 'һ': 'h', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ӏ': 'l',
	// Greek capitals
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M',
	'Ν': 'N', 'Ο': 'O', 'Ρ': 'P', 'Τ': 'T', 'Υ': 'Y', 'Χ': 'X',
	// Greek small letters
	'α': 'a', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'υ': 'u', 'χ': 'x',
}

package detect

import (
	"strings"
	"unicode/utf8"
)

// Similarity is how alike two names are after NormalizeName, from 0 to 1:
// the normalised Levenshtein similarity (1 − edits / longer length) of the
// names without spaces, and no more than that of their distinctive words —
// the name without generic trade words such as "chemical", "pharma",
// "trading" or "fine". One typo in a twelve-letter name gives 0.92. The
// second measure is what keeps two companies of one city apart: "Hebei
// Yongan Chemical" and "Hebei Yongkang Chemical" are 0.90 alike as whole
// names but only 0.85 in "hebei yongan" against "hebei yongkang".
// (Jaro-Winkler was not used because it rewards exactly such shared
// prefixes.)
func Similarity(a, b string) float64 {
	return nameSimilarity(NormalizeName(a), NormalizeName(b))
}

// nameSimilarity is Similarity on normalised names.
func nameSimilarity(a, b string) float64 {
	full := similarityCompact(compactName(a), compactName(b))
	ca, cb := coreName(a), coreName(b)
	if ca == "" || cb == "" {
		return full
	}
	return min(full, similarityCompact(ca, cb))
}

// coreName is a normalised name without its generic words, without spaces.
func coreName(normalised string) string {
	var b strings.Builder
	for _, w := range strings.Fields(normalised) {
		if !genericWords[w] {
			b.WriteString(w)
		}
	}
	return b.String()
}

// genericWords say what a company does, not which company it is.
var genericWords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`chemical chemicals chemie chemistry quimica quimicos chimie chimica
		pharma pharmaceutical pharmaceuticals pharmaceutique farma farmaceutica pharmazie
		trading trade traders import export imports exports industrial industries industry
		international intl global group holding holdings technology technologies tech biotech
		fine products laboratories laboratory labs lab logistics enterprise enterprises
		materials science sciences and the of de del la y und et`) {
		m[w] = true
	}
	return m
}()

// similarityCompact is the normalised Levenshtein similarity of two strings.
func similarityCompact(a, b string) float64 {
	if a == b {
		return 1
	}
	ra, rb := []rune(a), []rune(b)
	n := max(len(ra), len(rb))
	if n == 0 {
		return 1
	}
	return 1 - float64(levenshtein(ra, rb))/float64(n)
}

// similarEnough reports whether two normalised names reach min similarity,
// skipping the edit distance when the lengths alone rule it out.
func similarEnough(a, b string, min float64) (float64, bool) {
	if a == b {
		return 1, true
	}
	la, lb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	if n := max(la, lb); n > 0 {
		if d := la - lb; float64(max(d, -d))/float64(n) > 1-min+0.1 {
			return 0, false // spaces count here, hence the slack
		}
	}
	s := nameSimilarity(a, b)
	return s, s >= min
}

func levenshtein(a, b []rune) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cur := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, prev+cost)
			prev = cur
		}
	}
	return row[len(b)]
}

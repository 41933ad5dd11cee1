package cli

import "strings"

// suggest is the one candidate word was probably meant to be: the only
// candidate it is the start of (heap for heap-snapshot), else the nearest
// by edit distance when that is small for its length (delivr for
// deliver). "" when none is close, or several are equally so: a wrong
// guess is worse than none.
func suggest(word string, candidates []string) string {
	w := strings.ToLower(word)
	if w == "" {
		return ""
	}
	if len(w) >= 3 {
		var starts []string
		for _, c := range candidates {
			if strings.HasPrefix(c, w) {
				starts = append(starts, c)
			}
		}
		if len(starts) == 1 {
			return starts[0]
		}
	}
	best, bestD, tie := "", max(1, len(w)/3)+1, false
	for _, c := range candidates {
		switch d := distance(w, c); {
		case d < bestD:
			best, bestD, tie = c, d, false
		case d == bestD && best != "":
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// distance is the optimal string alignment distance of a and b: the
// insertions, deletions, substitutions and swaps of two neighbours that
// make one the other (stauts is one swap from status).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance of ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

package httpd

import "strings"

// PreferredType picks the offer the client ranks highest in its Accept header
// (RFC 9110 §12.5.1). For each offer the most specific matching media range
// counts (type/subtype over type/* over */*); parameters other than q, such
// as version=..., are ignored for matching, and when several ranges of equal
// specificity match, the highest q wins. q=0 excludes an offer. Ties go to
// the earliest offer.
//
// An empty Accept, or one without a single well-formed media range, accepts
// anything: the result is offers[0]. When Accept is well-formed but matches
// no offer, the result is "" and the caller may answer 406 or serve its
// default. Offers are plain "type/subtype"; parameters on them are ignored.
func PreferredType(accept string, offers ...string) string {
	best, bestQ := "", 0
	wellFormed := false
	for _, offer := range offers {
		typ, sub := splitMediaType(offer)
		q, valid := offerQuality(accept, typ, sub)
		wellFormed = wellFormed || valid
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	if best == "" && !wellFormed && len(offers) > 0 {
		return offers[0]
	}
	return best
}

// offerQuality returns the q (in thousandths) that accept gives type/sub, 0
// when no range matches, and whether accept had any well-formed range.
func offerQuality(accept, typ, sub string) (q int, wellFormed bool) {
	bestSpec := 0
	for rest := accept; rest != ""; {
		var elem string
		elem, rest, _ = strings.Cut(rest, ",")
		rtyp, rsub, rq, ok := parseMediaRange(elem)
		if !ok {
			continue
		}
		wellFormed = true
		spec := 0
		switch {
		case rtyp == "*":
			spec = 1
		case !strings.EqualFold(rtyp, typ):
		case rsub == "*":
			spec = 2
		case strings.EqualFold(rsub, sub):
			spec = 3
		}
		if spec > bestSpec || (spec == bestSpec && spec > 0 && rq > q) {
			bestSpec, q = spec, rq
		}
	}
	return q, wellFormed
}

// parseMediaRange parses one Accept element, "type/subtype *(; param)",
// returning its q in thousandths (1000 when absent).
func parseMediaRange(elem string) (typ, sub string, q int, ok bool) {
	mr, params, _ := strings.Cut(elem, ";")
	typ, sub, found := strings.Cut(strings.Trim(mr, " \t"), "/")
	if !found || !isToken(typ) || !isToken(sub) || (typ == "*" && sub != "*") {
		return "", "", 0, false
	}
	q = 1000
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(strings.Trim(p, " \t"), "=")
		if !strings.EqualFold(strings.TrimRight(name, " \t"), "q") {
			continue
		}
		if q, ok = parseQValue(strings.Trim(value, " \t")); !ok {
			return "", "", 0, false
		}
	}
	return typ, sub, q, true
}

// parseQValue parses a weight (RFC 9110 §12.4.2): "0" to "1" with up to three
// decimals, returned in thousandths.
func parseQValue(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' || len(s) > 5 {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		q += int(s[i]-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}

// splitMediaType returns the type and subtype of "type/subtype; params".
func splitMediaType(s string) (typ, sub string) {
	s, _, _ = strings.Cut(s, ";")
	typ, sub, _ = strings.Cut(strings.TrimSpace(s), "/")
	return typ, sub
}

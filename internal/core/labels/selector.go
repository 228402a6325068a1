package labels

import (
	"errors"
	"fmt"
	"strings"
)

// Op is how a selector's term tests a label.
type Op uint8

const (
	// Eq: the label is there with the value (tenant=acme).
	Eq Op = iota
	// Ne: the label is absent or has another value (tier!=dev).
	Ne
	// Exists: the label is there, any value (gpu).
	Exists
	// Absent: the label is not there (!gpu).
	Absent
)

// MaxTerms bounds a selector.
const MaxTerms = 16

// Term is one test of a selector.
type Term struct {
	Key   string
	Op    Op
	Value string
}

// Selector picks VMs by their labels: every term must hold. The zero
// Selector picks every VM.
type Selector struct{ terms []Term }

// ParseTerm reads one term: "k=v", "k!=v", "k" or "!k".
func ParseTerm(s string) (Term, error) {
	var t Term
	switch i := strings.IndexByte(s, '='); {
	case i < 0 && strings.HasPrefix(s, "!"):
		t = Term{Key: s[1:], Op: Absent}
	case i < 0:
		t = Term{Key: s, Op: Exists}
	case i > 0 && s[i-1] == '!':
		t = Term{Key: s[:i-1], Op: Ne, Value: s[i+1:]}
	default:
		t = Term{Key: s[:i], Op: Eq, Value: s[i+1:]}
	}
	if err := CheckKey(t.Key); err != nil {
		return t, fmt.Errorf("selector %q: %w; a term is k=v, k!=v, k (has the label) or !k (has not)", clip(s), err)
	}
	if t.Op == Eq || t.Op == Ne {
		if t.Value == "" {
			return t, fmt.Errorf("selector %q has no value after the '='; for VMs without the label write !%s", clip(s), t.Key)
		}
		if err := CheckValue(t.Key, t.Value); err != nil {
			return t, fmt.Errorf("selector %q: %w", clip(s), err)
		}
	}
	return t, nil
}

// Parse reads a selector from its terms (each ?label= of a request).
func Parse(terms []string) (Selector, error) {
	if len(terms) > MaxTerms {
		return Selector{}, fmt.Errorf("%d label terms; at most %d", len(terms), MaxTerms)
	}
	var sel Selector
	for _, s := range terms {
		t, err := ParseTerm(s)
		if err != nil {
			return Selector{}, err
		}
		sel.terms = append(sel.terms, t)
	}
	return sel, nil
}

// ParseList reads a selector written as comma-separated terms, as the
// tokens file's SELECTOR field holds it (a value there cannot hold a
// comma).
func ParseList(s string) (Selector, error) {
	if s == "" {
		return Selector{}, errors.New("the selector is empty")
	}
	return Parse(strings.Split(s, ","))
}

// Empty reports whether sel picks every VM.
func (sel Selector) Empty() bool { return len(sel.terms) == 0 }

// Matches reports whether every term holds for s.
func (sel Selector) Matches(s Set) bool {
	for _, t := range sel.terms {
		v, has := s[t.Key]
		switch t.Op {
		case Eq:
			if !has || v != t.Value {
				return false
			}
		case Ne:
			if has && v == t.Value {
				return false
			}
		case Exists:
			if !has {
				return false
			}
		case Absent:
			if has {
				return false
			}
		}
	}
	return true
}

// And is the selector of both: every term of sel and of o.
func (sel Selector) And(o Selector) Selector {
	if o.Empty() {
		return sel
	}
	if sel.Empty() {
		return o
	}
	return Selector{terms: append(append([]Term{}, sel.terms...), o.terms...)}
}

// Terms returns the selector as its terms, each as ParseTerm reads it:
// what a request's ?label= parameters carry.
func (sel Selector) Terms() []string {
	out := make([]string, len(sel.terms))
	for i, t := range sel.terms {
		out[i] = t.String()
	}
	return out
}

// String is the term as ParseTerm reads it.
func (t Term) String() string {
	switch t.Op {
	case Ne:
		return t.Key + "!=" + t.Value
	case Exists:
		return t.Key
	case Absent:
		return "!" + t.Key
	}
	return t.Key + "=" + t.Value
}

// String is the selector as its comma-separated terms.
func (sel Selector) String() string { return strings.Join(sel.Terms(), ",") }

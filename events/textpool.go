package events

import "strings"

// textPool makes the strings of one record's identifier-like fields with one
// allocation: the contents of the fields given to fill (unescaped JSON strings only)
// are copied into one string, and str returns a field's contents as a substring of it.
// A string that was not pooled (escaped, or not given to fill) is decoded on its own.
//
// The pooled fields of a valid record (id, account_id, source, performed_by,
// occurred_at, data.id) live as long as its Event anyway, so sharing one backing
// string keeps nothing alive for longer than before.
type textPool struct {
	s    string
	raws [poolSize][]byte // the raw tokens (quotes included) whose contents are in s
	ends [poolSize]int    // where each one's contents end in s
	n    int
}

const poolSize = 6

// fill pools raws: each nil, non-string or escaped one is skipped.
func (p *textPool) fill(raws [poolSize][]byte, esc [poolSize]bool) {
	size := 0
	for i, raw := range raws {
		if len(raw) >= 2 && raw[0] == '"' && !esc[i] {
			size += len(raw) - 2
		}
	}
	var b strings.Builder
	b.Grow(size)
	for i, raw := range raws {
		if len(raw) >= 2 && raw[0] == '"' && !esc[i] {
			b.Write(raw[1 : len(raw)-1])
			p.raws[p.n], p.ends[p.n] = raw, b.Len()
			p.n++
		}
	}
	p.s = b.String()
}

// str returns the contents of the raw JSON string token raw (quotes included) that
// the scanner accepted; esc says whether it has escapes.
func (p *textPool) str(raw []byte, esc bool) string {
	for i := range p.n {
		if q := p.raws[i]; len(q) == len(raw) && &q[0] == &raw[0] {
			start := 0
			if i > 0 {
				start = p.ends[i-1]
			}
			return p.s[start:p.ends[i]]
		}
	}
	return decodeString(raw, esc)
}

package events

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestScanStringAgreesWithEncodingJSON: over many strings made of the bytes that
// matter to a JSON string (quotes, backslashes, escape letters, hex digits, control
// characters, multi-byte UTF-8) at every length around the eight-byte steps of the
// scan, the scanner accepts exactly what encoding/json accepts, ends where the string
// ends, and reports escapes exactly when there is a backslash.
func TestScanStringAgreesWithEncodingJSON(t *testing.T) {
	alphabet := [][]byte{{'a'}, {'"'}, {'\\'}, {'u'}, {'n'}, {'0'}, {'F'}, {'/'}, {'\n'}, {0x01}, {0x1f}, {' '}, []byte("é"), []byte("\u2028")}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50_000 {
		in := []byte{'"'}
		for range rng.IntN(40) {
			in = append(in, alphabet[rng.IntN(len(alphabet))]...)
		}
		in = append(in, '"')
		s := scanner{b: in}
		esc, ok := s.str()
		// A string token ends at its first unescaped quote: compare with what
		// encoding/json makes of that prefix.
		if ok {
			tok := in[:s.i]
			if !json.Valid(tok) {
				t.Fatalf("scanner accepted %q, encoding/json does not", tok)
			}
			if esc != bytes.Contains(tok, []byte{'\\'}) {
				t.Fatalf("%q: esc = %v", tok, esc)
			}
			continue
		}
		for end := 2; end <= len(in); end++ {
			if json.Valid(in[:end]) {
				t.Fatalf("scanner rejected %q, but encoding/json accepts its prefix %q", in, in[:end])
			}
		}
	}
}

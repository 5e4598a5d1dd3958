package events

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"
)

// SampleNotes pads benchmark events: exactly the asked length, deterministic, different
// from one seq to the next, and text that compresses the way prose does — not the
// hundredfold of a repeated character, which made the raw passthrough's default
// compression hide most of its bytes.
func TestSampleNotesIsExactDeterministicAndCompressesLikeText(t *testing.T) {
	for _, n := range []int{0, 1, 17, 600, 1000} {
		if got := len(SampleNotes(7, n)); got != n {
			t.Errorf("len(SampleNotes(7, %d)) = %d", n, got)
		}
	}
	if a, b := SampleNotes(3, 600), SampleNotes(3, 600); a != b {
		t.Error("SampleNotes is not deterministic")
	}
	if SampleNotes(3, 600) == SampleNotes(4, 600) {
		t.Error("SampleNotes(3) == SampleNotes(4): every event would carry the same text")
	}
	if s := SampleNotes(5, 600); strings.ContainsAny(s, "\"\\\n") {
		t.Errorf("SampleNotes has characters JSON must escape: %q", s)
	}

	// 100 events' notes in one batch, as a producer compresses them.
	var batch strings.Builder
	for seq := range 100 {
		batch.WriteString(SampleNotes(seq, 600))
	}
	ratio := func(s string) float64 {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return float64(len(s)) / float64(buf.Len())
	}
	r := ratio(batch.String())
	t.Logf("100 notes of 600 bytes compress %.2f-fold (flate, fastest)", r)
	if r < 1.5 || r > 4 {
		t.Errorf("100 notes compress %.1f-fold; want prose-like 1.5-4", r)
	}
	if r := ratio(strings.Repeat("x", 60000)); r < 50 {
		t.Errorf("sanity: a repeated character compresses only %.1f-fold", r)
	}
}

package events

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers on a quarantined record: an input the pipeline could not use, copied verbatim
// (key, value, headers) to a topic for people (webhooks.invalid from the router,
// webhooks.dlq from the sender), with these added after the original headers. The DLQ
// record of a delivery that failed carries HeaderError too (the last attempt's error).
const (
	HeaderError           = "er-error"            // what is wrong (parse or validation error), or the last attempt's error
	HeaderSourceTopic     = "er-source-topic"     // topic of the original record
	HeaderSourcePartition = "er-source-partition" // its partition, decimal
	HeaderSourceOffset    = "er-source-offset"    // its offset, decimal
	// HeaderValueDropped is set (to the original length, decimal) when the original
	// value was too large to forward; the record then has an empty value.
	HeaderValueDropped = "er-value-dropped"
)

// MaxErrorBytes bounds HeaderError on a quarantined record; a longer message is cut on
// a rune boundary.
const MaxErrorBytes = 512

// Quarantine returns the copy of rec for topic: its key, value and headers, then
// HeaderReason (reason), HeaderError (msg as valid UTF-8, at most MaxErrorBytes) and where it came from
// (HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset). The value is shared,
// not copied. The caller bounds the record's size (see HeaderValueDropped).
func Quarantine(rec *kgo.Record, topic, reason, msg string) *kgo.Record {
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+6) // room for HeaderValueDropped
	hs = append(hs, rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(TruncateUTF8(msg, MaxErrorBytes))},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
	)
	return &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value, Headers: hs}
}

// TruncateUTF8 returns at most n bytes of s, cut on a rune boundary, with invalid
// sequences replaced so the result is valid UTF-8 (JSON- and header-safe).
func TruncateUTF8(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

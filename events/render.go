package events

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Render returns the webhook body customers receive for e: a compact JSON object with the
// keys, in this order, "id" (the event id), "event_name", "account_id", "occurred_at"
// (RFC 3339 in UTC, sub-second digits as received with trailing zeros trimmed), "source",
// "performed_by", and then the object under its type name ("claim", "contact") holding
// Data verbatim. The body is rendered once per event; its exact bytes are signed and sent.
//
// e should be valid (from Parser.Parse or Sample). An empty Data renders as {} so the
// body is always valid JSON; Data is otherwise not re-checked.
func Render(e *Event) []byte {
	return AppendRender(make([]byte, 0, renderSize(e)), e)
}

// AppendRender appends Render(e) to dst, for callers that reuse buffers.
func AppendRender(dst []byte, e *Event) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"event_name":`...)
	dst = appendString(dst, e.EventName)
	dst = append(dst, `,"account_id":`...)
	dst = appendString(dst, e.AccountID)
	dst = append(dst, `,"occurred_at":"`...)
	dst = e.OccurredAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"performed_by":`...)
	dst = appendString(dst, e.PerformedBy)
	dst = append(dst, ',')
	obj := e.Object
	if obj == "" { // hand-built event: the object is the event name's prefix
		obj, _, _ = strings.Cut(e.EventName, ".")
	}
	dst = appendString(dst, obj)
	dst = append(dst, ':')
	dst = appendData(dst, e.Data)
	return append(dst, '}')
}

func renderSize(e *Event) int {
	return 128 + len(e.ID) + len(e.EventName) + len(e.AccountID) + len(e.Source) +
		len(e.PerformedBy) + len(e.Object) + len(e.Data) + 36
}

func appendData(dst, data []byte) []byte {
	if len(data) == 0 {
		return append(dst, "{}"...)
	}
	return append(dst, data...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does (without HTML
// escaping): quotes, backslashes and control characters are escaped, U+2028 and U+2029
// too (they break JavaScript), and invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += n
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

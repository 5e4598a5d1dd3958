package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Payload modes of a subscription: what the webhook body carries of the object.
const (
	// PayloadFull sends the object as produced (the default; "" means full too).
	PayloadFull = "full"
	// PayloadThin sends the envelope and the object's id only; the receiver fetches the
	// details it needs (fewer personal data in transit and in receivers' logs).
	PayloadThin = "thin"
)

// Limits on redaction paths, checked when a subscription is written.
const (
	MaxRedactPaths   = 32
	MaxRedactPathLen = 256
)

// Shape is how one subscription's bodies differ from the event's full rendering. The
// zero Shape is the full body, rendered once per event and shared by every such
// subscription.
type Shape struct {
	// Thin replaces the object with {"id": <object id>}.
	Thin bool
	// Redact removes fields of the object: each path is "<object>.<field>[.<field>…]",
	// e.g. "contact.email", "claim.assignee.email"; paths of another object type do not
	// apply. A missing field is not an error.
	Redact []string
}

// IsFull reports whether s is the unshaped, full body.
func (s Shape) IsFull() bool { return !s.Thin && len(s.Redact) == 0 }

// ValidateShape checks a subscription's payload mode and redaction paths against the
// catalogue's object types; each problem names the field ("payload", "redact").
func ValidateShape(payload string, redact []string, objects []string) map[string]string {
	problems := map[string]string{}
	if payload != "" && payload != PayloadFull && payload != PayloadThin {
		problems["payload"] = fmt.Sprintf("must be %q or %q, not %q", PayloadFull, PayloadThin, payload)
	}
	if len(redact) > MaxRedactPaths {
		problems["redact"] = fmt.Sprintf("at most %d paths, got %d", MaxRedactPaths, len(redact))
		return problems
	}
	for _, p := range redact {
		obj, rest, ok := strings.Cut(p, ".")
		switch {
		case len(p) > MaxRedactPathLen:
			problems["redact"] = fmt.Sprintf("path longer than %d bytes", MaxRedactPathLen)
		case !ok || slices.Contains(strings.Split(rest, "."), ""):
			problems["redact"] = fmt.Sprintf("%q: want <object>.<field>[.<field>…], e.g. contact.email", p)
		case !slices.Contains(objects, obj):
			problems["redact"] = fmt.Sprintf("%q: unknown object %q, expected one of %s", p, obj, strings.Join(objects, ", "))
		case obj+".id" == p:
			problems["redact"] = fmt.Sprintf("%q: the object's id identifies it and cannot be redacted", p)
		}
		if problems["redact"] != "" {
			break
		}
	}
	return problems
}

// RenderShaped returns the body for a subscription of shape s: Render(e) when s is
// full; otherwise the same envelope with the object thinned or redacted. A redacted
// object is re-encoded from its decoded form: its keys come out sorted and numbers keep
// their exact text. It fails only when e's data is not a JSON object but redaction
// needs one.
func RenderShaped(e *Event, s Shape) ([]byte, error) {
	if s.IsFull() {
		return Render(e), nil
	}
	shaped := *e
	switch {
	case s.Thin:
		shaped.Data = appendString(append(make([]byte, 0, len(e.ObjectID)+10), `{"id":`...), e.ObjectID)
		shaped.Data = append(shaped.Data, '}')
	default:
		data, err := redact(e.Data, e.Object, s.Redact)
		if err != nil {
			return nil, err
		}
		shaped.Data = data
	}
	return Render(&shaped), nil
}

// redact removes the paths of object from data.
func redact(data []byte, object string, paths []string) ([]byte, error) {
	var mine [][]string
	for _, p := range paths {
		if obj, rest, _ := strings.Cut(p, "."); obj == object {
			mine = append(mine, strings.Split(rest, "."))
		}
	}
	if len(mine) == 0 {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("events: redact: data is not a JSON object")
	}
	for _, path := range mine {
		m := obj
		for i, k := range path {
			if i == len(path)-1 {
				delete(m, k)
				break
			}
			next, ok := m[k].(map[string]any)
			if !ok {
				break
			}
			m = next
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("events: redact: %w", err)
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

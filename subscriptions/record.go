package subscriptions

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// record is the JSON stored per subscription: the model plus its secrets and header
// values, which the model's own JSON form omits or shows. With a key ring, secret values
// and header values are sealed (sealer.go); sealed header values go in SealedHeaders and
// plain ones in Headers, so a plain value that happens to look sealed is never misread.
type record struct {
	*Subscription
	Secrets       []Secret          `json:"secrets"`
	Headers       map[string]string `json:"headers,omitempty"`
	SealedHeaders map[string]string `json:"sealed_headers,omitempty"`
}

// headerAAD binds a sealed header value to its subscription and header name.
func headerAAD(subID, name string) string { return subID + "\x00header\x00" + name }

func (s *RedisStore) encode(sub *Subscription) (string, error) {
	rec := record{Subscription: sub, Secrets: make([]Secret, len(sub.Secrets))}
	for i, sec := range sub.Secrets {
		if s.sealer != nil {
			sec.Value = s.sealer.seal(sub.ID, sec.Value)
		}
		rec.Secrets[i] = sec
	}
	if s.sealer == nil {
		rec.Headers = sub.Headers
	} else if len(sub.Headers) > 0 {
		rec.SealedHeaders = make(map[string]string, len(sub.Headers))
		for name, v := range sub.Headers {
			rec.SealedHeaders[name] = s.sealer.seal(headerAAD(sub.ID, name), v)
		}
	}
	b, err := json.Marshal(rec)
	return string(b), err
}

// parse reads a stored record without opening anything.
func parse(data string) (record, error) {
	rec := record{Subscription: &Subscription{}}
	if err := json.Unmarshal([]byte(data), &rec); err != nil {
		return rec, fmt.Errorf("subscriptions: corrupt stored subscription: %w", err)
	}
	return rec, nil
}

func (s *RedisStore) decode(data, version string) (*Subscription, error) {
	rec, err := parse(data)
	if err != nil {
		return nil, err
	}
	sub := rec.Subscription
	sub.Secrets = rec.Secrets
	for i := range sub.Secrets {
		v, err := s.sealer.open(sub.ID, sub.ID, sub.Secrets[i].Value)
		if err != nil {
			return nil, err
		}
		sub.Secrets[i].Value = v
	}
	sub.Headers = rec.Headers
	if len(rec.SealedHeaders) > 0 && sub.Headers == nil {
		sub.Headers = make(map[string]string, len(rec.SealedHeaders))
	}
	for name, sealed := range rec.SealedHeaders {
		if !strings.HasPrefix(sealed, sealedPrefix) {
			return nil, fmt.Errorf("%w: subscription %s: header %s is not sealed", ErrSecretKey, sub.ID, name)
		}
		v, err := s.sealer.open(sub.ID, headerAAD(sub.ID, name), sealed)
		if err != nil {
			return nil, err
		}
		sub.Headers[name] = v
	}
	sub.Version, _ = strconv.ParseInt(version, 10, 64)
	return sub, nil
}

// stale reports whether a stored record holds a value not sealed with the ring's newest
// key: a plain secret or header, or one sealed with an older key. Always false without
// a ring.
func (s *RedisStore) stale(rec record) bool {
	if s.sealer == nil {
		return false
	}
	if len(rec.Headers) > 0 {
		return true
	}
	for _, sec := range rec.Secrets {
		if !s.sealer.current(sec.Value) {
			return true
		}
	}
	for _, v := range rec.SealedHeaders {
		if !s.sealer.current(v) {
			return true
		}
	}
	return false
}

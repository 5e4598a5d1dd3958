package events

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Sample returns a realistic event for dev mode, `eventrouter emit`, tests and load
// generation. It is deterministic: the same arguments give the same event, including
// its id ("evt_" + 26 base32 characters derived from all arguments), so docs and tests
// can pin its rendering. seq varies the content (names, labels, source); now becomes
// OccurredAt, truncated to milliseconds, in UTC.
//
// Data is plausible for each default catalogue name (docs/producing.md) (a claim with number,
// status, type, labels and assignee; a contact with name and email; plus what the verb
// changed: the label, the old and new type, the assignee). Other names get a generic
// object with the id, so Sample works for any configured catalogue.
func Sample(name, accountID, objectID string, seq int, now time.Time) *Event {
	obj, verb, _ := strings.Cut(name, ".")
	at := now.UTC().Truncate(time.Millisecond)
	e := &Event{
		ID:         sampleID(name, accountID, objectID, seq, at),
		AccountID:  accountID,
		EventName:  name,
		Object:     obj,
		Source:     SourceUI,
		OccurredAt: at,
		ObjectID:   objectID,
	}
	who := pick(people, seq)
	e.PerformedBy = who.Name
	if seq%3 == 2 {
		e.Source = SourceAPI
		e.PerformedBy = pick(tokens, seq)
	}
	var data any
	switch obj {
	case "claim":
		data = sampleClaim(verb, objectID, seq, at)
	case "contact":
		data = sampleContact(objectID, seq, at)
	default:
		data = struct {
			ID        string    `json:"id"`
			UpdatedAt time.Time `json:"updated_at"`
		}{objectID, at}
	}
	e.Data, _ = json.Marshal(data) // cannot fail: plain structs
	return e
}

type person struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

var (
	people = []person{
		{"usr_01HV3K8Z2Q", "Ada Lovelace", "ada@example.com"},
		{"usr_01HV3K9A7M", "Grace Hopper", "grace@example.com"},
		{"usr_01HV3K9F0X", "Katherine Johnson", "katherine@example.com"},
	}
	tokens     = []string{"token:crm-sync", "token:intake-portal"}
	claimTypes = []string{"property_damage", "water_damage", "theft", "liability", "motor"}
	labels     = []string{"urgent", "fraud_review", "vip", "awaiting_documents"}
	contacts   = []person{
		{"", "Jane Doe", "jane.doe@example.org"},
		{"", "Omar Haddad", "omar.haddad@example.org"},
		{"", "Mei Lin", "mei.lin@example.org"},
	}
)

func pick[T any](xs []T, seq int) T {
	if seq < 0 {
		seq = -seq
	}
	return xs[seq%len(xs)]
}

type sampleClaimData struct {
	ID               string    `json:"id"`
	Number           string    `json:"number"`
	Status           string    `json:"status"`
	Type             string    `json:"type"`
	Labels           []string  `json:"labels"`
	Assignee         *person   `json:"assignee"`
	Label            string    `json:"label,omitempty"`
	FromType         string    `json:"from_type,omitempty"`
	ToType           string    `json:"to_type,omitempty"`
	PreviousAssignee *person   `json:"previous_assignee,omitempty"`
	ClosedAt         time.Time `json:"closed_at,omitzero"`
	ReopenedAt       time.Time `json:"reopened_at,omitzero"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func sampleClaim(verb, id string, seq int, at time.Time) sampleClaimData {
	assignee := pick(people, seq+1)
	c := sampleClaimData{
		ID:        id,
		Number:    "CLM-" + strconv.Itoa(100000+seq%900000),
		Status:    "open",
		Type:      pick(claimTypes, seq),
		Labels:    []string{pick(labels, seq+1)},
		Assignee:  &assignee,
		CreatedAt: at.Add(-72 * time.Hour),
		UpdatedAt: at,
	}
	label := pick(labels, seq)
	switch verb {
	case "created":
		c.CreatedAt, c.Labels, c.Assignee = at, []string{}, nil
	case "closed":
		c.Status, c.ClosedAt = "closed", at
	case "reopened":
		c.ReopenedAt = at
	case "label_added":
		c.Label, c.Labels = label, append(c.Labels, label)
	case "label_removed":
		c.Label = label
	case "assigned":
		// Assignee is the new one.
	case "unassigned":
		c.PreviousAssignee, c.Assignee = c.Assignee, nil
	case "switched_type":
		c.FromType, c.ToType = c.Type, pick(claimTypes, seq+1)
		c.Type = c.ToType
	}
	return c
}

type sampleContactData struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func sampleContact(id string, seq int, at time.Time) sampleContactData {
	p := pick(contacts, seq)
	return sampleContactData{
		ID:        id,
		Name:      p.Name,
		Email:     p.Email,
		Phone:     "+44 20 7946 " + strconv.Itoa(1000+seq%9000),
		Role:      "policyholder",
		CreatedAt: at,
	}
}

func sampleID(name, account, object string, seq int, at time.Time) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{name, account, object} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	h.Write(n[:binary.PutVarint(n[:], int64(seq))])
	h.Write(n[:binary.PutVarint(n[:], at.UnixNano())])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var out [4 + 32]byte
	copy(out[:], "evt_")
	idEncoding.Encode(out[4:], sum[:20])
	return string(out[:4+26])
}

// Marshal returns e as an ingest record value (docs/producing.md), the inverse of
// Parser.Parse: for a valid event, Parse(e.Marshal()) yields an equal Event. Keys are
// written in a fixed order; Data is written verbatim ({} when empty).
func (e *Event) Marshal() []byte {
	b := make([]byte, 0, renderSize(e)+32)
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"account_id":`...)
	b = appendString(b, e.AccountID)
	b = append(b, `,"event_name":`...)
	b = appendString(b, e.EventName)
	b = append(b, `,"object":`...)
	b = appendString(b, e.Object)
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"performed_by":`...)
	b = appendString(b, e.PerformedBy)
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = appendData(b, e.Data)
	return append(b, '}')
}

// noteWords is the vocabulary of SampleNotes: what a claims handler writes.
var noteWords = strings.Fields(`claim policy vehicle damage water roof theft storm
	adjuster payment approved pending review estimate repair invoice customer called
	reported photos uploaded inspection scheduled liability coverage deductible
	windshield collision total loss rental garage contractor plumber flood fire smoke
	the a to of and on for with from after before insured third party police report
	received sent requested confirmed declined awaiting documents signed quote`)

// SampleNotes returns free text of exactly n bytes for load generation: words of a
// claims handler's notes and numbers, chosen by seq (the same seq gives the same text).
// Benchmarks pad their events with it rather than with one repeated character, which
// every Kafka codec shrinks to almost nothing: a benchmark whose bytes vanish under the
// producer's default compression measures less broker and network work than real
// claim data causes (text like this compresses about two- to threefold).
func SampleNotes(seq, n int) string {
	if n <= 0 {
		return ""
	}
	// A small deterministic generator (xorshift64*), so the text depends only on seq.
	x := uint64(seq)*0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D
	next := func() uint64 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		return x * 0x2545F4914F6CDD1D
	}
	b := make([]byte, 0, n+16)
	for len(b) < n {
		r := next()
		if r%5 == 0 {
			b = strconv.AppendUint(b, r>>40%100000, 10)
		} else {
			b = append(b, noteWords[(r>>8)%uint64(len(noteWords))]...)
		}
		b = append(b, ' ')
	}
	return string(b[:n])
}

// Package receiver is a webhook endpoint for dev mode, tests, benchmarks and the fault
// suite: it verifies every request's Standard Webhooks signature with the official
// library, counts deliveries by webhook-id, and can be told to be slow or to fail.
package receiver

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Delivery is one request the receiver accepted for inspection.
type Delivery struct {
	Path        string
	WebhookID   string
	EventName   string
	ObjectID    string
	AccountID   string
	PerformedBy string
	Source      string
	// Attempt counts the requests seen with this webhook-id, this one included.
	Attempt    int
	Verified   bool
	VerifyErr  string // why verification failed; empty when Verified
	OccurredAt time.Time
	ReceivedAt time.Time
	Status     int // what the receiver answered
	// Body is the request body as received (operational events are not read into the
	// fields above).
	Body []byte
	// TraceParent is the request's W3C traceparent header; empty when it had none.
	TraceParent string
}

// Behaviour decides how the receiver answers a request to path: after Delay, with Status
// (0 means 200). It must be safe for concurrent use.
type Behaviour func(path string) (delay time.Duration, status int)

// Receiver is an http.Handler. Secrets are registered per URL path. Safe for concurrent use.
type Receiver struct {
	mu      sync.Mutex
	hooks   map[string]*standardwebhooks.Webhook
	seen    map[string]int // 2xx answers per webhook-id
	tries   map[string]int // requests per webhook-id
	total   int
	bad     int
	behave  Behaviour
	observe func(Delivery)
}

// New returns a receiver that calls observe (if not nil) for every request.
func New(observe func(Delivery)) *Receiver {
	return &Receiver{hooks: map[string]*standardwebhooks.Webhook{}, seen: map[string]int{}, tries: map[string]int{}, observe: observe}
}

// SetSecret registers the signing secret ("whsec_…") for requests to path.
func (r *Receiver) SetSecret(path, secret string) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.hooks[path] = wh
	r.mu.Unlock()
	return nil
}

// SetBehaviour changes how the receiver answers (nil: 200 at once).
func (r *Receiver) SetBehaviour(b Behaviour) {
	r.mu.Lock()
	r.behave = b
	r.mu.Unlock()
}

// body is the part of a webhook body the receiver reads.
type body struct {
	EventName   string    `json:"event_name"`
	AccountID   string    `json:"account_id"`
	Source      string    `json:"source"`
	PerformedBy string    `json:"performed_by"`
	OccurredAt  time.Time `json:"occurred_at"`
	Claim       *struct {
		ID json.RawMessage `json:"id"`
	} `json:"claim"`
	Contact *struct {
		ID json.RawMessage `json:"id"`
	} `json:"contact"`
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	d := Delivery{Path: req.URL.Path, WebhookID: req.Header.Get("webhook-id"), ReceivedAt: time.Now(), Body: raw,
		TraceParent: req.Header.Get("traceparent")}
	var b body
	if err := json.Unmarshal(raw, &b); err == nil {
		d.EventName, d.AccountID, d.Source, d.PerformedBy, d.OccurredAt = b.EventName, b.AccountID, b.Source, b.PerformedBy, b.OccurredAt
		switch {
		case b.Claim != nil:
			d.ObjectID = unquote(b.Claim.ID)
		case b.Contact != nil:
			d.ObjectID = unquote(b.Contact.ID)
		}
	}
	r.mu.Lock()
	wh := r.hooks[d.Path]
	behave := r.behave
	r.mu.Unlock()
	switch {
	case wh == nil:
		d.VerifyErr = "no secret registered for " + d.Path
	default:
		if err := wh.Verify(raw, req.Header); err != nil {
			d.VerifyErr = err.Error()
		} else {
			d.Verified = true
		}
	}
	var delay time.Duration
	status := http.StatusOK
	if behave != nil {
		var s int
		delay, s = behave(d.Path)
		if s != 0 {
			status = s
		}
	}
	if !d.Verified {
		status = http.StatusUnauthorized
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	r.total++
	if !d.Verified {
		r.bad++
	}
	if status < 300 {
		r.seen[d.WebhookID]++
	}
	r.tries[d.WebhookID]++
	d.Attempt = r.tries[d.WebhookID]
	r.mu.Unlock()
	d.Status = status
	if r.observe != nil {
		r.observe(d)
	}
	w.WriteHeader(status)
}

func unquote(raw json.RawMessage) string {
	if s, err := strconv.Unquote(string(raw)); err == nil {
		return s
	}
	return string(raw)
}

// Stats counts what the receiver saw.
type Stats struct {
	Requests   int // every request, answered 2xx or not
	Unverified int // requests whose signature did not verify
	Unique     int // distinct webhook-ids accepted (2xx)
	Duplicates int // 2xx requests beyond the first for their webhook-id
}

// Stats returns the counts so far.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Requests: r.total, Unverified: r.bad, Unique: len(r.seen)}
	for _, n := range r.seen {
		s.Duplicates += n - 1
	}
	return s
}

// Accepted returns how many times webhook-id id was accepted (answered 2xx).
func (r *Receiver) Accepted(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}

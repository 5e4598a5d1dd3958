package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

type fakeOperational struct {
	got []OperationalQuery
	out []*events.OpEvent
}

func (f *fakeOperational) Recent(_ context.Context, q OperationalQuery) ([]*events.OpEvent, error) {
	f.got = append(f.got, q)
	return f.out, nil
}

func TestOperationalEventsRoute(t *testing.T) {
	fake := &fakeOperational{out: []*events.OpEvent{{Type: events.OpEndpointFailing, ID: "op_1", AccountID: "acct_acme", SubscriptionID: "sub_1"}}}
	h := newHarness(t, func(_ *Config, d *Deps) { d.Operational = fake })

	rec := h.do("GET", "/v1/operational-events?type=endpoint.failing,delivery.exhausted&since=2h&limit=5", acmeToken, "")
	body := decode[struct {
		Data []events.OpEvent `json:"data"`
	}](t, rec)
	if rec.Code != http.StatusOK || len(body.Data) != 1 || body.Data[0].ID != "op_1" {
		t.Fatalf("%d %+v", rec.Code, body)
	}
	q := fake.got[0]
	if q.AccountID != "acct_acme" || q.Limit != 5 || !slices.Equal(q.Types, []string{"endpoint.failing", "delivery.exhausted"}) ||
		time.Since(q.Since) < 2*time.Hour-time.Minute || time.Since(q.Since) > 2*time.Hour+time.Minute {
		t.Fatalf("query %+v: want the token's account, limit 5, both types, since 2h ago", q)
	}

	if rec := h.do("GET", "/v1/operational-events?account_id=acct_other", acmeToken, ""); rec.Code != http.StatusForbidden ||
		!strings.Contains(rec.Body.String(), "account_id") {
		t.Fatalf("another account's events: %d %s, want 403 naming account_id", rec.Code, rec.Body)
	}
	for param, field := range map[string]string{"type=claim.created": "type", "since=yesterday": "since"} {
		if rec := h.do("GET", "/v1/operational-events?"+param, acmeToken, ""); rec.Code != http.StatusUnprocessableEntity ||
			!strings.Contains(rec.Body.String(), `"field":"`+field+`"`) {
			t.Errorf("%s: %d %s, want 422 naming %s", param, rec.Code, rec.Body, field)
		}
	}
	if rec := h.do("GET", "/v1/operational-events?limit=1001", adminToken, ""); rec.Code != http.StatusBadRequest {
		t.Errorf("limit 1001: %d, want 400", rec.Code)
	}
	h.do("GET", "/v1/operational-events", adminToken, "")
	if last := fake.got[len(fake.got)-1]; last.AccountID != "" || last.Limit != defaultPageLimit || time.Since(last.Since) < 23*time.Hour {
		t.Errorf("admin default query %+v: want every account, the default limit, since 24h ago", last)
	}

	none := newHarness(t)
	if rec := none.do("GET", "/v1/operational-events", adminToken, ""); rec.Code != http.StatusNotImplemented {
		t.Errorf("without the dependency: %d, want 501", rec.Code)
	}
}

// namedTestSender remembers the event names tests were sent with.
type namedTestSender struct{ names *[]string }

func (n namedTestSender) SendTest(_ context.Context, _ *subscriptions.Subscription, name string) (string, error) {
	*n.names = append(*n.names, name)
	return "evt_test", nil
}

// A test send to an operational subscription sends an operational sample by default,
// and any operational type may be asked for.
func TestTestEventOfAnOperationalSubscription(t *testing.T) {
	var names []string
	h := newHarness(t, func(c *Config, d *Deps) {
		c.TestRate, c.TestBurst = 100, 100
		d.TestSender = namedTestSender{&names}
	})
	create := func(evs string) string {
		rec := h.do("POST", "/v1/subscriptions", acmeToken, `{"url":"https://hooks.example.com/x","events":`+evs+`}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", evs, rec.Code, rec.Body)
		}
		return decode[created](t, rec).ID
	}
	for _, c := range []struct{ events, body, want string }{
		{`["subscription.*","endpoint.*"]`, "", events.OpSubscriptionDisabled},
		{`["contact.*"]`, "", "contact.created"},
		{`["claim.created"]`, `{"event_name":"endpoint.failing"}`, events.OpEndpointFailing},
	} {
		id := create(c.events)
		if rec := h.do("POST", "/v1/subscriptions/"+id+"/test", acmeToken, c.body); rec.Code != http.StatusAccepted {
			t.Fatalf("test %s: %d %s", c.events, rec.Code, rec.Body)
		}
		if got := names[len(names)-1]; got != c.want {
			t.Errorf("events %s body %q: test sent %s, want %s", c.events, c.body, got, c.want)
		}
	}
}

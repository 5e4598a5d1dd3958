package router

import (
	"bytes"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
)

// TestShapedSubscriptionsGetTheirOwnBody: of three subscriptions to one contact event,
// the full one receives the shared rendering, the thin one the envelope and the id
// only, and the redacting one the contact without its email and phone.
func TestShapedSubscriptionsGetTheirOwnBody(t *testing.T) {
	e := newEnv(t, 1, 3)
	full := sub("sub_full", "acc_1", true, "", "*")
	thin := sub("sub_thin", "acc_1", true, "", "*")
	thin.Payload = events.PayloadThin
	red := sub("sub_redact", "acc_1", true, "", "contact.*")
	red.Redact = []string{"contact.email", "contact.phone"}
	m := newMatcher(t, full, thin, red)
	rec, _ := eventRecord("contact.created", "acc_1", "cnt_7", 1)
	rec.Topic = tIngest2
	e.produce(t, rec)
	e.start(t, e.config("g-shape"), m, newParser(t, 0))

	parsed, err := newParser(t, 0).Parse(rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(parsed.Data, []byte(`"email"`)) {
		t.Fatalf("the sample contact has no email to redact: %s", parsed.Data)
	}
	bodies := map[string]string{}
	for _, r := range e.reader(t, tDeliveries).n(t, 3) {
		bodies[string(r.Key)] = string(r.Value)
	}
	if bodies["sub_full"] != string(events.Render(parsed)) {
		t.Errorf("full body differs from the rendering:\n%s", bodies["sub_full"])
	}
	if !strings.Contains(bodies["sub_thin"], `"contact":{"id":"cnt_7"}}`) || strings.Contains(bodies["sub_thin"], "@") {
		t.Errorf("thin body = %s", bodies["sub_thin"])
	}
	if b := bodies["sub_redact"]; b == "" || strings.Contains(b, `"email"`) || strings.Contains(b, `"phone"`) || !strings.Contains(b, `"id":"cnt_7"`) {
		t.Errorf("redacted body = %s", b)
	}
}

package router

import (
	"bytes"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
)

// TestShapedSubscriptionsGetTheirOwnBody: of the subscriptions to one contact event,
// the full one receives the shared rendering, the thin ones the envelope and the id
// only, and each redacting one the contact without the fields it redacts: bodies are
// rendered once per shape, and a subscription never gets another shape's body.
func TestShapedSubscriptionsGetTheirOwnBody(t *testing.T) {
	e := newEnv(t, 1, 3)
	full := sub("sub_full", "acc_1", true, "", "*")
	thin := sub("sub_thin", "acc_1", true, "", "*")
	thin.Payload = events.PayloadThin
	thin2 := sub("sub_thin2", "acc_1", true, "", "contact.*")
	thin2.Payload = events.PayloadThin
	red := sub("sub_redact", "acc_1", true, "", "contact.*")
	red.Redact = []string{"contact.email", "contact.phone"}
	red2 := sub("sub_redact2", "acc_1", true, "", "*")
	red2.Redact = []string{"contact.email", "contact.phone"}
	redEmail := sub("sub_redact_email", "acc_1", true, "", "*")
	redEmail.Redact = []string{"contact.email"}
	m := newMatcher(t, full, thin, red, thin2, redEmail, red2)
	rec, _ := eventRecord("contact.created", "acc_1", "cnt_7", 1)
	rec.Topic = tIngest2
	e.produce(t, rec)
	e.start(t, e.config("g-shape"), m, newParser(t, 0))

	parsed, err := newParser(t, 0).Parse(rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(parsed.Data, []byte(`"email"`)) || !bytes.Contains(parsed.Data, []byte(`"phone"`)) {
		t.Fatalf("the sample contact has no email and phone to redact: %s", parsed.Data)
	}
	bodies := map[string]string{}
	for _, r := range e.reader(t, tDeliveries).n(t, 6) {
		bodies[string(r.Key)] = string(r.Value)
	}
	if bodies["sub_full"] != string(events.Render(parsed)) {
		t.Errorf("full body differs from the rendering:\n%s", bodies["sub_full"])
	}
	for _, id := range []string{"sub_thin", "sub_thin2"} {
		if b := bodies[id]; !strings.Contains(b, `"contact":{"id":"cnt_7"}}`) || strings.Contains(b, "@") {
			t.Errorf("%s: thin body = %s", id, b)
		}
	}
	for _, id := range []string{"sub_redact", "sub_redact2"} {
		if b := bodies[id]; b == "" || strings.Contains(b, `"email"`) || strings.Contains(b, `"phone"`) || !strings.Contains(b, `"id":"cnt_7"`) {
			t.Errorf("%s: redacted body = %s", id, b)
		}
	}
	if b := bodies["sub_redact_email"]; b == "" || strings.Contains(b, `"email"`) || !strings.Contains(b, `"phone"`) {
		t.Errorf("sub_redact_email: body = %s, want the phone kept and the email removed", b)
	}
}

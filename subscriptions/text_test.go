package subscriptions

import (
	"strings"
	"testing"
)

// TestValidateRefusesControlAndBidiCharacters: text that would forge log lines or
// display in another order than it is stored is refused in every text field, with the
// field named and the character given by code point, never echoed.
func TestValidateRefusesControlAndBidiCharacters(t *testing.T) {
	p := Policy{Catalogue: testCatalogue}
	bad := map[string]string{
		"NUL": "\x00", "newline": "\n", "ESC": "\x1b", "DEL": "\x7f", "C1 CSI": "\u009b",
		"RLO": "\u202e", "LRE": "\u202a", "RLI": "\u2067", "PDI": "\u2069", "ALM": "\u061c",
		"RLM": "\u200f", "line separator": "\u2028",
	}
	fields := map[string]func(*Subscription, string){
		"account_id":     func(s *Subscription, c string) { s.AccountID = "acct" + c + "1" },
		"name":           func(s *Subscription, c string) { s.Name = "route" + c + "1" },
		"description":    func(s *Subscription, c string) { s.Description = "claims hook " + c + " for acme" },
		"filter":         func(s *Subscription, c string) { s.Filter = `source == "api` + c + `"` },
		"url":            func(s *Subscription, c string) { s.URL = "https://hooks.example.com/in" + c },
		"headers.X-Team": func(s *Subscription, c string) { s.Headers["X-Team"] = "claims" + c },
	}
	for field, set := range fields {
		for what, c := range bad {
			if (field == "filter" && c == "\n") || (field == "url" && c < " ") {
				continue // a filter may span lines; url.Parse refuses ASCII controls itself
			}
			sub := validSub()
			set(sub, c)
			probs := problems(t, p.Validate(sub))
			if len(probs) != 1 || probs[0].Field != field {
				t.Errorf("%s with %s: problems %+v, want one naming %s", field, what, probs, field)
				continue
			}
			if strings.Contains(probs[0].Message, c) || !strings.Contains(probs[0].Message, "U+") {
				t.Errorf("%s with %s: message %q should name the code point, not echo it", field, what, probs[0].Message)
			}
		}
	}
}

// TestValidateIdentifiersRefuseInvisibleCharacters: two account ids that look alike
// are alike; ordinary text keeps its emoji and accents.
func TestValidateIdentifiersRefuseInvisibleCharacters(t *testing.T) {
	p := Policy{Catalogue: testCatalogue}
	for _, id := range []string{"acct\u200b1", "acct\ufeff1", "acct\u00a01", "acct\u00ad1"} {
		sub := validSub()
		sub.AccountID = id
		if probs := problems(t, p.Validate(sub)); len(probs) != 1 || probs[0].Field != "account_id" {
			t.Errorf("account_id %q: problems %+v", id, probs)
		}
	}
	sub := validSub()
	sub.Description = "two\tcolumns"
	if probs := problems(t, p.Validate(sub)); len(probs) != 1 || probs[0].Field != "description" {
		t.Fatalf("a tab in a description: problems %+v", probs)
	}
	sub.Description = "Équipe sinistres 👩‍💻 — العربية"
	sub.Filter = "source == \"api\"\n  && event_name == \"claim.created\""
	if err := p.Validate(sub); err != nil {
		t.Fatalf("ordinary text refused: %v", err)
	}
}

package api

import (
	"net/http"
	"testing"
)

// FuzzCreateBody: any request body gets a precise client-side answer, never a 5xx or panic.
func FuzzCreateBody(f *testing.F) {
	f.Add(`{"url":"https://hooks.example.com/x","events":["claim.created"]}`)
	f.Add(`{"url":1}`)
	f.Add(`{"headers":{"X":"y"},"rate_limit_per_sec":1e400}`)
	f.Add(`[] {}`)
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		h.t = t
		rec := h.do("POST", "/v1/subscriptions", acmeToken, body)
		switch rec.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge,
			http.StatusUnprocessableEntity, http.StatusConflict:
		default:
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body.String())
		}
	})
}

package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// doWith is harness.do with extra request headers.
func (h *harness) doWith(method, path, token, body string, hdr map[string]string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func TestETagChangesWithEveryWriteAndIfMatchGuardsWrites(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	path := "/v1/subscriptions/" + sub.ID
	get := h.do("GET", path, acmeToken, "")
	etag := get.Header().Get("ETag")
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("GET ETag %q, want a quoted version", etag)
	}

	ok := h.doWith("PATCH", path, acmeToken, `{"description":"mine"}`, map[string]string{"If-Match": etag})
	if ok.Code != http.StatusOK {
		t.Fatalf("PATCH with the current ETag: %d %s", ok.Code, ok.Body.String())
	}
	next := ok.Header().Get("ETag")
	if next == "" || next == etag {
		t.Fatalf("PATCH response ETag %q, want a new one (was %q)", next, etag)
	}

	// A writer that read before that PATCH is refused, and changes nothing.
	p := problem(t, h.doWith("PATCH", path, acmeToken, `{"description":"stale"}`, map[string]string{"If-Match": etag}), http.StatusPreconditionFailed)
	if !strings.HasSuffix(p.Type, "#precondition-failed") {
		t.Fatalf("type %q", p.Type)
	}
	problem(t, h.doWith("POST", path+"/secret/rotate", acmeToken, "", map[string]string{"If-Match": etag}), http.StatusPreconditionFailed)
	problem(t, h.doWith("DELETE", path, acmeToken, "", map[string]string{"If-Match": etag}), http.StatusPreconditionFailed)
	problem(t, h.doWith("PATCH", path, acmeToken, `{"description":"weak"}`, map[string]string{"If-Match": "W/" + next}), http.StatusPreconditionFailed)
	problem(t, h.doWith("PATCH", path, acmeToken, `{"description":"two"}`, map[string]string{"If-Match": next + `, "1"`}), http.StatusBadRequest)
	got := decode[created](t, h.do("GET", path, acmeToken, ""))
	if got.Description != "mine" {
		t.Fatalf("description %q after refused writes, want %q", got.Description, "mine")
	}
	secret := decode[secretsBody](t, h.do("GET", path+"/secret", acmeToken, ""))
	if secret.Current.Value != sub.Secret {
		t.Fatal("a refused rotation changed the secret")
	}

	// Rotation at the current ETag works and answers the new one; "*" matches any.
	rot := h.doWith("POST", path+"/secret/rotate", acmeToken, "", map[string]string{"If-Match": next})
	if rot.Code != http.StatusOK || rot.Header().Get("ETag") == next || rot.Header().Get("ETag") == "" {
		t.Fatalf("rotate at the current ETag: %d ETag %q", rot.Code, rot.Header().Get("ETag"))
	}
	if rec := h.doWith("PATCH", path, acmeToken, `{"description":"any"}`, map[string]string{"If-Match": "*"}); rec.Code != http.StatusOK {
		t.Fatalf("If-Match *: %d %s", rec.Code, rec.Body.String())
	}
	cur := h.do("GET", path, acmeToken, "").Header().Get("ETag")
	if rec := h.doWith("DELETE", path, acmeToken, "", map[string]string{"If-Match": cur}); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE at the current ETag: %d %s", rec.Code, rec.Body.String())
	}
}

func TestCreateAndSecretResponsesCarryETag(t *testing.T) {
	h := newHarness(t)
	rec := h.do("POST", "/v1/subscriptions", acmeToken, `{"url":"https://hooks.example.com/x","events":["claim.created"]}`)
	c := decode[created](t, rec)
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("create has no ETag")
	}
	if got := h.do("GET", "/v1/subscriptions/"+c.ID+"/secret", acmeToken, "").Header().Get("ETag"); got != etag {
		t.Fatalf("GET secret ETag %q, want %q (nothing changed)", got, etag)
	}
}

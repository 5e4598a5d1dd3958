package api

import (
	"net/http"
	"testing"

	"github.com/claimable/eventrouter/subscriptions"
)

func TestManyRotationsKeepSecretsCappedAndPatchesWorking(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	path := "/v1/subscriptions/" + sub.ID
	for i := range 15 {
		if rec := h.do("POST", path+"/secret/rotate", acmeToken, ""); rec.Code != http.StatusOK {
			t.Fatalf("rotation %d: %d %s", i+1, rec.Code, rec.Body.String())
		}
	}
	secrets := decode[secretsBody](t, h.do("GET", path+"/secret", acmeToken, ""))
	if len(secrets.Previous) != subscriptions.MaxSecrets-1 {
		t.Fatalf("%d previous secrets after 15 rotations, want %d", len(secrets.Previous), subscriptions.MaxSecrets-1)
	}
	if rec := h.do("PATCH", path, acmeToken, `{"enabled":false}`); rec.Code != http.StatusOK {
		t.Fatalf(`PATCH {"enabled":false} after 15 rotations: %d %s`, rec.Code, rec.Body.String())
	}
}

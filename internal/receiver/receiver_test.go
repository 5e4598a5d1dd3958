package receiver

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func post(t *testing.T, url, id string, body string, sign bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	ts := time.Now()
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	if sign {
		wh, _ := standardwebhooks.NewWebhook(secret)
		sig, err := wh.Sign(id, ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("webhook-signature", sig)
	} else {
		req.Header.Set("webhook-signature", "v1,bm90IGEgc2lnbmF0dXJl")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestReceiverVerifiesAndCountsByWebhookID(t *testing.T) {
	var got []Delivery
	r := New(func(d Delivery) { got = append(got, d) })
	if err := r.SetSecret("/hooks/a", secret); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	body := `{"id":"evt_1","event_name":"claim.closed","source":"ui","performed_by":"jane","claim":{"id":"clm_9"}}`
	if resp := post(t, srv.URL+"/hooks/a", "msg_1", body, true); resp.StatusCode != 200 {
		t.Fatalf("signed request answered %d", resp.StatusCode)
	}
	post(t, srv.URL+"/hooks/a", "msg_1", body, true)
	if resp := post(t, srv.URL+"/hooks/a", "msg_2", body, false); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged request answered %d, want 401", resp.StatusCode)
	}
	st := r.Stats()
	if st.Requests != 3 || st.Unique != 1 || st.Duplicates != 1 || st.Unverified != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if got[0].EventName != "claim.closed" || got[0].ObjectID != "clm_9" || !got[0].Verified || got[1].Attempt != 2 {
		t.Fatalf("deliveries = %+v", got)
	}
	if got[2].Verified || got[2].VerifyErr == "" {
		t.Fatalf("forged delivery must carry a reason: %+v", got[2])
	}
}

func TestReceiverBehaviourFailsRequests(t *testing.T) {
	r := New(nil)
	_ = r.SetSecret("/x", secret)
	r.SetBehaviour(func(string) (time.Duration, int) { return 0, http.StatusServiceUnavailable })
	srv := httptest.NewServer(r)
	defer srv.Close()
	if resp := post(t, srv.URL+"/x", "msg_1", `{}`, true); resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if r.Accepted("msg_1") != 0 {
		t.Fatal("a failed request must not count as accepted")
	}
}

//go:build integration

package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/receiver"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// uiEndpointBody is what the test's endpoints answer: markup the page must show as text.
const uiEndpointBody = `{"received":true,"note":"<b>shown as text</b>"}`

// uiWait bounds each wait of the browser test: the pipeline on the real broker and a
// browser share two cores with other tests.
const uiWait = 90 * time.Second

// TestDeliveryLogPageInChromium drives the delivery log page (/ui/) in headless
// Chromium against the whole stack on Apache Kafka and redis-server: two events routed
// and delivered by the pipeline, one to an endpoint that answers 200 and one to an
// endpoint that answers 500 until the delivery is dead. The page, opened with the
// admin token, shows each subscription's health, the delivered delivery with its state
// and its attempt with the endpoint's response excerpt (as text, not markup); its
// Redeliver button makes the endpoint receive the same webhook-id again; its replay
// form's dry run shows the count of deliveries it would make and sends nothing.
// EVENTROUTER_UI_SCREENSHOT=path saves a PNG of the page (docs/images/ui.png).
func TestDeliveryLogPageInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	env := realReadinessEnv(t)

	var mu sync.Mutex
	var seen []receiver.Delivery
	recv := receiver.New(func(d receiver.Delivery) {
		mu.Lock()
		seen = append(seen, d)
		mu.Unlock()
	})
	recv.SetBehaviour(func(path string) (time.Duration, int) {
		if path == "/hooks/failing" {
			return 0, http.StatusInternalServerError
		}
		return 0, 0
	})
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recv.ServeHTTP(w, r)
		_, _ = io.WriteString(w, uiEndpointBody)
	}))
	t.Cleanup(endpoint.Close)
	eu, _ := url.Parse(endpoint.URL)
	port, _ := strconv.Atoi(eu.Port())
	s := runStack(t, env.cfg, env.rdb, func(c *config.Config) { c.Egress.AllowPorts = append(c.Egress.AllowPorts, port) })
	web := httptest.NewServer(s.sys.API.Handler())
	t.Cleanup(web.Close)

	start := time.Now().UTC()
	subOK := uiSubscription(t, s, recv, "acct_ui_ok", endpoint.URL+"/hooks/ok", "claims desk (answers 200)")
	subBad := uiSubscription(t, s, recv, "acct_ui_failing", endpoint.URL+"/hooks/failing", "legacy CRM (answers 500)")
	produceClaimEvents(t, s, subOK.AccountID, []string{"clm_ui_1"}, 1)
	produceClaimEvents(t, s, subBad.AccountID, []string{"clm_ui_2"}, 1)

	firstTo := func(path string) string {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range seen {
			if d.Path == path {
				return d.WebhookID
			}
		}
		return ""
	}
	requestsTo := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, d := range seen {
			if d.Path == path {
				n++
			}
		}
		return n
	}
	testenv.Eventually(t, uiWait, "the pipeline to deliver both events", func() bool { return firstTo("/hooks/ok") != "" && firstTo("/hooks/failing") != "" })
	okID, badID := firstTo("/hooks/ok"), firstTo("/hooks/failing")
	// The page reads the attempt log; wait until it holds the outcomes to show.
	testenv.Eventually(t, uiWait, "the attempt log to show "+okID+" delivered and "+badID+" dead", func() bool {
		var ok, bad struct {
			State string `json:"state"`
		}
		s.call(t, http.MethodGet, "/v1/deliveries/"+okID, "", &ok)
		s.call(t, http.MethodGet, "/v1/deliveries/"+badID, "", &bad)
		return ok.State == "delivered" && bad.State == "dead"
	})

	b := newBrowser(t, chrome)
	b.do("open /ui/ and enter the admin token",
		chromedp.Navigate(web.URL+"/ui"),
		chromedp.SendKeys(chromedp.CSS("#token"), testToken),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)))

	health := func(sub *subscriptions.Subscription) string {
		return `document.querySelector('tr[data-subscription=` + jsString(sub.ID) + `] td.health')`
	}
	b.waitJS("both subscriptions listed with their health",
		health(subOK)+`?.dataset.health === "healthy" && `+health(subBad)+`?.dataset.health === "failing"`)

	row := `tr[data-delivery=` + jsString(okID) + `]`
	b.do("open the deliveries of "+subOK.ID, chromedp.Click(chromedp.CSS(`tr[data-subscription=`+jsString(subOK.ID)+`] button.open`)))
	b.waitJS("the pipeline's delivery "+okID+" shown as delivered",
		`document.querySelector('`+row+` td.state')?.textContent === "delivered"`)

	b.do("show its attempts", chromedp.Click(chromedp.CSS(row+` button.toggle`)))
	excerpt := `document.querySelector('tr[data-attempts-of=` + jsString(okID) + `] pre.response')`
	b.waitJS("the attempt's response excerpt, as text", excerpt+`?.textContent === `+jsString(uiEndpointBody)+` && !`+excerpt+`.querySelector("b")`)

	b.do("click Redeliver", chromedp.Click(chromedp.CSS(row+` button.redeliver`)))
	b.waitJS("the page to say the redelivery is queued", `document.querySelector('`+row+` button.redeliver')?.textContent === "Queued"`)
	testenv.Eventually(t, uiWait, "the endpoint to receive "+okID+" again", func() bool { return recv.Accepted(okID) == 2 })
	b.do("refresh the deliveries", chromedp.Click(chromedp.CSS("#refresh")))
	b.waitJS("the redelivery's attempt listed", `document.querySelector('`+row+` button.toggle')?.textContent.startsWith("2 ")`)
	b.do("show its attempts again", chromedp.Click(chromedp.CSS(row+` button.toggle`)))

	b.do("fill the replay form (dry run, this subscription, since the test began)",
		chromedp.SetValue(chromedp.CSS(`#replay-form input[name="from"]`), start.Add(-time.Minute).Format(time.RFC3339)),
		chromedp.SetValue(chromedp.CSS(`#replay-form input[name="to"]`), time.Now().UTC().Add(time.Second).Format(time.RFC3339)),
		chromedp.Click(chromedp.CSS(`#replay-form button[type="submit"]`)))
	b.waitJS("the dry run's result", `document.querySelector("#replay-result")?.dataset.state === "done"`)
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#replay-result").dataset.deliveries`))
	if err != nil {
		t.Fatalf("read the dry run's count: %v", err)
	}
	if got != "1" {
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#replay-result").textContent`))
		t.Fatalf("dry run counted %q deliveries for %s, want 1 (%q)", got, subOK.ID, text)
	}

	if path := os.Getenv("EVENTROUTER_UI_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of the page saved to %s (%d bytes)", path, len(png))
	}

	if n := requestsTo("/hooks/ok"); n != 2 {
		t.Errorf("%s's endpoint got %d requests, want 2 (the delivery and the redelivery; the dry run sends nothing)", subOK.ID, n)
	}
	b.checkConsole()
}

// uiSubscription creates a subscription to every claim event on u, registers its secret
// with recv and waits until the router's index has it.
func uiSubscription(t *testing.T, s *stack, recv *receiver.Receiver, account, u, description string) *subscriptions.Subscription {
	t.Helper()
	sub, err := s.sys.Service.Create(context.Background(), subscriptions.Input{AccountID: account, URL: u,
		Events: []string{"claim.*"}, Description: description})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	if err := recv.SetSecret(p.Path, sub.Secrets[0].Value); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, uiWait, "the index to hold "+sub.ID, func() bool { _, ok := s.sys.Index.Get(sub.ID); return ok })
	return sub
}

// chromiumPath finds the browser: $CHROME_PATH, else chromium on PATH. Missing is a
// failure, not a skip: scripts/ci-deps.sh installs Debian's chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the delivery log page test needs Chromium: install Debian's chromium "+
			"(scripts/ci-deps.sh does: apt-get install chromium) or set CHROME_PATH (%v)", err)
	}
	return p
}

// browser is one headless Chromium tab and what its console reported.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelRun := context.WithTimeout(ctx, 5*time.Minute)
	b := &browser{t: t, ctx: ctx}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancelRun()
		cancelTab()
		cancelAlloc()
		<-done
	})
	messages := chromedp.Console(ctx) // starts the browser
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v%s", what, err, b.status())
	}
}

// waitJS waits until the JavaScript expression is true on the page.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(uiWait),
		chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
		b.t.Fatalf("browser: waiting for %s: %v%s", what, err, b.status())
	}
}

// status is the page's status line and console so far, for a failure message.
func (b *browser) status() string {
	line, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#status")?.textContent ?? ""`))
	b.mu.Lock()
	defer b.mu.Unlock()
	var out strings.Builder
	out.WriteString("\npage status: " + line)
	for _, m := range b.console {
		out.WriteString("\nconsole: " + m.String())
	}
	return out.String()
}

// checkConsole fails the test on an uncaught exception or a security message (a
// Content-Security-Policy violation) in the page's console.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || m.Source == "security" {
			b.t.Errorf("page console: %s", m)
		} else {
			b.t.Logf("page console: %s", m)
		}
	}
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

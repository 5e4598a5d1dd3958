package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/claimable/eventrouter/internal/receiver"
)

// hangFor is how long the hanging endpoint holds a request: longer than any sender
// timeout, so the request ends when the sender gives up.
const hangFor = time.Hour

// endpoint is the benchmark's webhook receiver: internal/receiver (which verifies every
// signature with the official Standard Webhooks library) behind one local listener,
// reporting each request to the current Ledger.
type endpoint struct {
	recv    *receiver.Receiver
	srv     *http.Server
	ln      net.Listener
	ledger  atomic.Pointer[Ledger]
	hanging atomic.Pointer[string] // path that hangs, if any
	Port    int
}

// newEndpoint listens on a free loopback port; answers are delayed by latency and fail
// (503) with probability failureRate.
func newEndpoint(latency time.Duration, failureRate float64) (*endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &endpoint{ln: ln, Port: ln.Addr().(*net.TCPAddr).Port}
	e.recv = receiver.New(func(d receiver.Delivery) {
		if l := e.ledger.Load(); l != nil {
			ok := d.Status >= 200 && d.Status < 300
			l.Observe(d.WebhookID, d.Verified, ok, d.ReceivedAt, d.ReceivedAt.Sub(d.OccurredAt))
		}
	})
	e.recv.SetBehaviour(func(path string) (time.Duration, int) {
		if h := e.hanging.Load(); h != nil && *h == path {
			return hangFor, 0
		}
		if failureRate > 0 && rand.Float64() < failureRate {
			return latency, http.StatusServiceUnavailable
		}
		return latency, 0
	})
	e.srv = &http.Server{Handler: e.recv, ReadHeaderTimeout: 5 * time.Second}
	return e, nil
}

// Serve serves until Close.
func (e *endpoint) Serve() {
	if err := e.srv.Serve(e.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = err // the run notices through missing deliveries
	}
}

// Close stops the server, abandoning hanging requests.
func (e *endpoint) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if e.srv.Shutdown(ctx) != nil {
		_ = e.srv.Close()
	}
}

// Register adds path's signing secret.
func (e *endpoint) Register(secrets map[string]string) error {
	for p, s := range secrets {
		if err := e.recv.SetSecret(p, s); err != nil {
			return err
		}
	}
	return nil
}

// Hang makes path hang from now on ("" stops hanging).
func (e *endpoint) Hang(path string) {
	if path == "" {
		e.hanging.Store(nil)
		return
	}
	e.hanging.Store(&path)
}

package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/subscriptions"
)

// Idempotency-Key (as Stripe does it): a client may send the header on any POST. The
// first request with a key runs and its response (status, body, and the headers below)
// is kept for 24 h; a retry with the same key and the same request gets that response
// again, with Idempotent-Replayed: true, and changes nothing. Keys are scoped to the
// principal (admin, or one account) and the route, so two accounts never collide.
const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
	maxIdempotencyKey = 255
)

// replayedHeaders are the response headers kept and replayed with the body.
var replayedHeaders = []string{"Content-Type", "Location", "ETag", "Cache-Control", "X-Content-Type-Options"}

// idempotent serves a POST that carries an Idempotency-Key: it replays a completed
// response, refuses a key in flight (409) or reused for another request (422), or runs
// the handler and keeps its response. Responses of 5xx are not kept: the key is released
// so the client's retry runs again.
func (s *Server) idempotent(rt route, w http.ResponseWriter, r *http.Request, who principal, key string) {
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		writeProblem(w, newProblem(http.StatusBadRequest, kindBadRequest, "invalid Idempotency-Key",
			subscriptions.FieldError{Field: idempotencyHeader, Message: "must be 1 to 255 printable ASCII characters"}))
		return
	}
	if s.deps.Idempotency == nil {
		writeProblem(w, newProblem(http.StatusNotImplemented, kindNotImplemented, "this server has no idempotency store"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		writeProblem(w, newProblem(http.StatusBadRequest, kindBadRequest, "unreadable body"))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body)) // the handler still enforces the size limit
	scope := "admin"
	if !who.admin {
		scope = "account:" + who.account
	}
	scoped := digest(scope, rt.pattern(), key)
	fp := digest(r.URL.Path, r.Header.Get("Content-Type"), string(body))

	stored, err := s.deps.Idempotency.Begin(r.Context(), scoped, fp)
	switch {
	case errors.Is(err, ErrIdempotencyInFlight):
		w.Header().Set("Retry-After", "1")
		writeProblem(w, newProblem(http.StatusConflict, kindIdempotencyInFlight,
			"a request with this Idempotency-Key is still in progress; retry shortly"))
		return
	case errors.Is(err, ErrIdempotencyMismatch):
		writeProblem(w, newProblem(http.StatusUnprocessableEntity, kindIdempotencyReused,
			"this Idempotency-Key was already used for a different request (path or body); use a new key",
			subscriptions.FieldError{Field: idempotencyHeader, Message: "was used with a different request"}))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case stored != nil:
		for name, v := range stored.Headers {
			w.Header().Set(name, v)
		}
		w.Header().Set(replayedHeader, "true")
		w.WriteHeader(stored.Status)
		_, _ = w.Write(stored.Body)
		return
	}

	rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
	// The request's own context may be cancelled once the handler returns; the outcome
	// must still be recorded, within a bound.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	defer func() {
		if v := recover(); v != nil { // observe answers 500; release the key for a retry
			_ = s.deps.Idempotency.Abandon(ctx, scoped, fp)
			panic(v)
		}
	}()
	rt.handler(s, rec, r, who)
	if rec.status >= 500 {
		err = s.deps.Idempotency.Abandon(ctx, scoped, fp)
	} else {
		resp := StoredResponse{Status: rec.status, Body: rec.body.Bytes(), Headers: map[string]string{}}
		for _, name := range replayedHeaders {
			if v := w.Header().Get(name); v != "" {
				resp.Headers[name] = v
			}
		}
		err = s.deps.Idempotency.Finish(ctx, scoped, fp, resp)
	}
	if err != nil {
		// The response was sent; a retry will meet the claim until it expires.
		s.log.Warn("api idempotency record not saved", zap.String("route", rt.pattern()), zap.Error(err))
	}
}

// digest is the hex SHA-256 of parts, each length-delimited by a NUL.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// recordingWriter passes a response through and keeps a copy of its status and body.
type recordingWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote, w.status = true, code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

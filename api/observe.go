package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// requestInfo is filled in while a request is served, for the access log and metrics.
type requestInfo struct {
	route string // the matched route pattern; "" when the mux matched nothing
	// principal names the token that authenticated the request ("admin_tokens[0]"),
	// "" when none did.
	principal string
}

type requestInfoKey struct{}

func routeOf(r *http.Request) string {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok && info.route != "" {
		return info.route
	}
	return "unmatched"
}

// wrap binds one route: it records the route for the log and metrics, then
// authenticates (unless public) and calls the handler.
func (s *Server) wrap(rt route) http.Handler {
	pattern := rt.pattern()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.route = pattern
		}
		var who principal
		if !rt.public {
			var ok bool
			if who, ok = s.auth.authenticate(r); !ok {
				writeProblem(w, newProblem(http.StatusUnauthorized, kindUnauthorized,
					"send Authorization: Bearer <token> with an admin or account token"))
				return
			}
			if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
				info.principal = who.name
			}
		}
		if wait, ok := s.limits.allow(who, rt.class()); !ok {
			tooManyRequests(w, wait, rt.class())
			return
		}
		if key := r.Header.Get(idempotencyHeader); key != "" && rt.method == http.MethodPost {
			s.idempotent(rt, w, r, who, key)
			return
		}
		rt.handler(s, w, r, who)
	})
}

// observe is the outermost middleware: access log, metrics, panic recovery, the
// request header limit, and problem+json bodies for the mux's own 404 and 405 answers.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		sw := &statusWriter{ResponseWriter: w, info: info}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		if headerBytes(r) > MaxHeaderBytes {
			// Written past sw, which would turn an unrouted error into a 404.
			sw.wrote, sw.status = true, http.StatusRequestHeaderFieldsTooLarge
			writeProblem(w, newProblem(http.StatusRequestHeaderFieldsTooLarge, kindHeadersTooLarge,
				fmt.Sprintf("the request line and headers exceed %d bytes", MaxHeaderBytes)))
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("api handler panic", zap.String("route", routeOf(r)), zap.String("panic", fmt.Sprint(v)), zap.Stack("stack"))
				if !sw.wrote {
					writeProblem(sw, newProblem(http.StatusInternalServerError, kindInternal, "internal error; see the server log"))
				}
			}
			route := routeOf(r)
			latency := time.Since(start)
			s.metrics.observe(route, sw.status, latency)
			s.log.Info("api request",
				zap.String("method", r.Method),
				zap.String("route", route),
				zap.Int("status", sw.status),
				zap.Duration("latency", latency),
				zap.String("principal", info.principal),
				zap.String("client", r.RemoteAddr))
		}()
		if sw.wrote {
			return
		}
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status; for requests no route matched it replaces the mux's
// plain-text error with problem+json.
type statusWriter struct {
	http.ResponseWriter
	info    *requestInfo
	status  int
	wrote   bool
	swallow bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote, w.status = true, code
	if w.info.route == "" && code >= 400 {
		w.swallow = true
		kind, detail := kindNotFound, "no such route; see GET /v1/openapi.yaml"
		if code == http.StatusMethodNotAllowed {
			kind, detail = kindMethod, "method not allowed on this path; see the Allow header"
		}
		w.Header().Del("Content-Length")
		p := newProblem(code, kind, detail)
		writeProblem(w.ResponseWriter, p)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

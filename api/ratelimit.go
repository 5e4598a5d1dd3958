package api

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// limitClass says which of a token's buckets a route draws from.
type limitClass int

const (
	limitNone  limitClass = iota // reads: not limited
	limitWrite                   // POST, PATCH, DELETE
	limitTest                    // POST …/test: each one makes a real request to the endpoint
)

// class is the bucket rt draws from: /test has its own (stricter) one, every other
// non-GET route is a write. Deriving it from the method keeps new write routes limited.
func (rt route) class() limitClass {
	switch {
	case rt.public:
		return limitNone
	case strings.HasSuffix(rt.path, "/test"):
		return limitTest
	case rt.method == http.MethodGet || rt.method == http.MethodHead:
		return limitNone
	}
	return limitWrite
}

// rateLimits holds one token bucket per configured token and class. The set of tokens
// is fixed at start-up, so the map is built once and only read afterwards (no lock).
type rateLimits struct {
	buckets map[string]*rate.Limiter // key: token name + "/" + class
	now     func() time.Time
}

// newRateLimits builds the buckets of every token in auth. A rate of 0 leaves that
// class unlimited; a burst below 1 is 1.
func newRateLimits(cfg Config, auth *authenticator) *rateLimits {
	rl := &rateLimits{buckets: map[string]*rate.Limiter{}, now: time.Now}
	for _, e := range auth.entries {
		if cfg.WriteRate > 0 {
			rl.buckets[bucketKey(e.who.name, limitWrite)] = rate.NewLimiter(rate.Limit(cfg.WriteRate), max(cfg.WriteBurst, 1))
		}
		if cfg.TestRate > 0 {
			rl.buckets[bucketKey(e.who.name, limitTest)] = rate.NewLimiter(rate.Limit(cfg.TestRate), max(cfg.TestBurst, 1))
		}
	}
	return rl
}

func bucketKey(name string, c limitClass) string { return name + "/" + strconv.Itoa(int(c)) }

// allow takes one request from who's bucket of class c. When the bucket is empty it
// takes nothing and returns how long until one request would be allowed.
func (rl *rateLimits) allow(who principal, c limitClass) (time.Duration, bool) {
	if c == limitNone {
		return 0, true
	}
	lim, ok := rl.buckets[bucketKey(who.name, c)]
	if !ok {
		return 0, true
	}
	now := rl.now()
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Second, false // cannot happen with a burst of at least 1
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// tooManyRequests answers 429 with Retry-After in whole seconds (at least 1).
func tooManyRequests(w http.ResponseWriter, wait time.Duration, c limitClass) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	what := "writes"
	if c == limitTest {
		what = "test events"
	}
	writeProblem(w, newProblem(http.StatusTooManyRequests, kindRateLimited,
		"this token is sending "+what+" faster than allowed; retry after "+strconv.Itoa(secs)+" s"))
}

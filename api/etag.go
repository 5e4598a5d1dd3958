package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/claimable/eventrouter/subscriptions"
)

// A subscription's ETag is its version ("store version at its last change"), quoted:
// every write changes it, and If-Match names it to make a write conditional.

// setETag sets the ETag header of a response showing sub.
func setETag(w http.ResponseWriter, sub *subscriptions.Subscription) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(sub.Version, 10)+`"`)
}

// ifMatch returns the version r's If-Match header names: subscriptions.AnyVersion when
// the header is absent or "*". It accepts one strong entity tag. A weak tag (W/"…") or
// one that is not a version this API issued can never match (RFC 9110 compares If-Match
// strongly), so it is a 412; a list of several tags is a 400 (a write compares against
// one version).
func ifMatch(r *http.Request) (int64, *Problem) {
	raw := strings.TrimSpace(r.Header.Get("If-Match"))
	switch {
	case raw == "" || raw == "*":
		return subscriptions.AnyVersion, nil
	case strings.Contains(raw, ","):
		return 0, newProblem(http.StatusBadRequest, kindBadRequest, "If-Match must name exactly one ETag",
			subscriptions.FieldError{Field: "If-Match", Message: "send one ETag, as returned by GET"})
	}
	tag, ok := strings.CutPrefix(raw, `"`)
	tag, ok2 := strings.CutSuffix(tag, `"`)
	v, err := strconv.ParseInt(tag, 10, 64)
	if !ok || !ok2 || err != nil || v <= 0 {
		return 0, preconditionFailed()
	}
	return v, nil
}

func preconditionFailed() *Problem {
	return newProblem(http.StatusPreconditionFailed, kindPrecondition,
		"the subscription changed since the ETag named in If-Match; GET it again and retry")
}

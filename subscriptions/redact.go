package subscriptions

import (
	"errors"
	"net/url"
	"strings"
)

// RedactedQuery replaces a URL's query string wherever RedactURL shows a URL.
const RedactedQuery = "?REDACTED"

// RedactURL returns raw safe to log or print: scheme://host[:port]/path, with any
// userinfo and fragment removed and a query string replaced by RedactedQuery. Endpoint
// URLs often carry credentials in the query (?token=…, ?sig=…), and a query string
// may even be one bare token, so neither its keys nor its values are shown. A URL that
// does not parse is shown only as "(unparseable URL)": it could be anything. The path is
// kept, since it is how an operator recognises an endpoint.
//
// Every log line, printed plan and stored error that mentions a subscription's URL goes
// through this function.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	hadQuery := u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "?")
	// An opaque part ("https:host?q") is dropped too: it may itself hold credentials.
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	s := clean.String()
	if hadQuery {
		s += RedactedQuery
	}
	return s
}

// RedactURLError rewrites the URL inside err when err is (or wraps) a *url.Error, as
// net/http's client returns them: the message then names the endpoint without its query
// or userinfo. It returns err itself, so errors.Is and errors.As keep working.
func RedactURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		ue.URL = RedactURL(ue.URL)
	}
	return err
}

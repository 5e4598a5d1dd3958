package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

func TestClassifyStatus(t *testing.T) {
	for code, want := range map[int]Reason{
		200: ReasonOK, 201: ReasonOK, 204: ReasonOK, 299: ReasonOK,
		100: ReasonHTTPStatus, 301: ReasonHTTPStatus, 304: ReasonHTTPStatus, 400: ReasonHTTPStatus,
		410: ReasonGone, 429: ReasonRateLimited, 500: ReasonHTTPStatus, 503: ReasonHTTPStatus,
	} {
		if got := ClassifyStatus(code); got != want {
			t.Errorf("ClassifyStatus(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestClassifyError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Reason
	}{
		{fmt.Errorf("post: %w", context.DeadlineExceeded), ReasonTimeout},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, ReasonDNS},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, ReasonConnection},
		{io.ErrUnexpectedEOF, ReasonConnection},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, ReasonTimeout},
	} {
		if got := ClassifyError(tc.err); got != tc.want {
			t.Errorf("ClassifyError(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"abc", 0}, {"1.5", 0},
		{"120", 2 * time.Minute},
		{"99999999999999999999", time.Hour},
		{"7200", time.Hour},
		{now.Add(90 * time.Second).Format("Mon, 02 Jan 2006 15:04:05 GMT"), 90 * time.Second},
		{now.Add(-time.Minute).Format("Mon, 02 Jan 2006 15:04:05 GMT"), 0},
	} {
		if got := ParseRetryAfter(tc.v, now, time.Hour); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "5", "Mon, 02 Jan 2006 15:04:05 GMT", "-1", "1e9"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, v string) {
		if d := ParseRetryAfter(v, now, time.Hour); d < 0 || d > time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %v outside [0, 1h]", v, d)
		}
	})
}

package subscriptions

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactURLRemovesQueryUserinfoAndFragment(t *testing.T) {
	cases := map[string]string{
		"https://hooks.example.com/claims":                    "https://hooks.example.com/claims",
		"https://hooks.example.com:8443/a/b?token=s3cr3t&x=1": "https://hooks.example.com:8443/a/b?REDACTED",
		"https://user:pa55@hooks.example.com/p?sig=abc#frag":  "https://hooks.example.com/p?REDACTED",
		"https://hooks.example.com/p?s3cr3tbaretoken":         "https://hooks.example.com/p?REDACTED",
		"https://hooks.example.com/p?":                        "https://hooks.example.com/p?REDACTED",
		"http://127.0.0.1:9000/webhooks/demo":                 "http://127.0.0.1:9000/webhooks/demo",
		"https://[2001:db8::1]:443/x%2Fy?k=v":                 "https://[2001:db8::1]:443/x%2Fy?REDACTED",
		"https://hooks.example.com/%zz?token=s3cr3t":          "(unparseable URL)",
		"https:opaque-s3cr3t?token=s3cr3t":                    "https:?REDACTED",
		"https://user@hooks.example.com/no-password":          "https://hooks.example.com/no-password",
	}
	for in, want := range cases {
		got := RedactURL(in)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		for _, secret := range []string{"s3cr3t", "pa55", "user", "frag"} {
			if strings.Contains(got, secret) {
				t.Errorf("RedactURL(%q) = %q still shows %q", in, got, secret)
			}
		}
	}
}

func TestRedactURLErrorRewritesWrappedURLError(t *testing.T) {
	inner := errors.New("connection refused")
	err := &url.Error{Op: "Post", URL: "https://u:p@hooks.example.com/p?token=s3cr3t", Err: inner}
	wrapped := RedactURLError(errors.Join(errors.New("attempt"), err))
	if msg := wrapped.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "u:p") ||
		!strings.Contains(msg, `"https://hooks.example.com/p?REDACTED"`) {
		t.Fatalf("message %q still carries the query or userinfo", msg)
	}
	if !errors.Is(wrapped, inner) {
		t.Fatal("the redacted error no longer wraps its cause")
	}
	if RedactURLError(nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

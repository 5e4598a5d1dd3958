package api

import "net/http"

// MaxHeaderBytes bounds a request's line and headers; a larger request is answered 431
// (headers-too-large, problem+json) before authentication.
const MaxHeaderBytes = 64 << 10

// serverMaxHeaderBytes is the http.Server's own limit. Go answers a request beyond it
// with a plain-text 431 before any handler runs, so it is set well above
// MaxHeaderBytes: between the two the API answers in problem+json, and only a request
// with more than 1 MiB of headers gets Go's plain answer.
const serverMaxHeaderBytes = 1 << 20

// headerBytes approximates the request's size on the wire up to the body, as
// http.Server counts it: the request line and every header line with its CRLF.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if r.Host != "" && r.Header.Get("Host") == "" { // Go moves Host out of Header
		n += len("Host: ") + len(r.Host) + 2
	}
	return n + 2
}

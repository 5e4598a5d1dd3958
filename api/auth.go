package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/claimable/eventrouter/subscriptions"
)

// principal is who a request acts for: an admin (every account) or one account.
type principal struct {
	admin   bool
	account string
	// name is the token's place in the configuration ("admin_tokens[0]",
	// "account_tokens[2]"): what the access log shows and rate limits are kept by,
	// never the token itself.
	name string
}

// sees reports whether the principal may see and change resources of account.
func (p principal) sees(account string) bool { return p.admin || p.account == account }

// tokenEntry keeps only a digest of a token, so comparisons take constant time whatever
// the token's length and the token itself is never held in a comparable form.
type tokenEntry struct {
	digest [sha256.Size]byte
	who    principal
}

// authenticator resolves bearer tokens. It is immutable after construction.
type authenticator struct {
	entries []tokenEntry
}

// newAuthenticator parses admin tokens and "account_id=token" pairs. Errors name the
// offending entry by position, never by value.
func newAuthenticator(admin, account []string) (*authenticator, error) {
	a := &authenticator{}
	seen := map[[sha256.Size]byte]string{}
	add := func(where, token string, who principal) error {
		if token == "" {
			return fmt.Errorf("api: %s: empty token", where)
		}
		d := sha256.Sum256([]byte(token))
		if prev, dup := seen[d]; dup {
			return fmt.Errorf("api: %s: same token as %s", where, prev)
		}
		seen[d] = where
		a.entries = append(a.entries, tokenEntry{digest: d, who: who})
		return nil
	}
	for i, t := range admin {
		where := fmt.Sprintf("admin_tokens[%d]", i)
		if err := add(where, strings.TrimSpace(t), principal{admin: true, name: where}); err != nil {
			return nil, err
		}
	}
	for i, pair := range account {
		where := fmt.Sprintf("account_tokens[%d]", i)
		acct, token, ok := strings.Cut(pair, "=")
		acct, token = strings.TrimSpace(acct), strings.TrimSpace(token)
		if !ok || acct == "" {
			return nil, fmt.Errorf("api: %s: want account_id=token", where)
		}
		if err := add(where, token, principal{account: acct, name: where}); err != nil {
			return nil, err
		}
	}
	if len(a.entries) == 0 {
		return nil, fmt.Errorf("api: no admin_tokens or account_tokens configured: every request would be refused")
	}
	return a, nil
}

// authenticate returns the principal of r's bearer token. Every configured token is
// compared, in constant time, so timing reveals neither which nor how much matched.
func (a *authenticator) authenticate(r *http.Request) (principal, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return principal{}, false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return principal{}, false
	}
	d := sha256.Sum256([]byte(token))
	var found principal
	match := 0
	for _, e := range a.entries {
		if subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 {
			found, match = e.who, 1
		}
	}
	return found, match == 1
}

// listedAccount resolves a listing's ?account_id=: an admin's choice (empty: every
// account) or an account token's own account. Another account answers 403 with
// denied, naming account_id, and ok false.
func listedAccount(w http.ResponseWriter, who principal, requested, denied string) (account string, ok bool) {
	if who.admin {
		return requested, true
	}
	if requested != "" && requested != who.account {
		writeProblem(w, newProblem(http.StatusForbidden, kindForbidden, denied,
			subscriptions.FieldError{Field: "account_id", Message: "must be the token's account or omitted"}))
		return "", false
	}
	return who.account, true
}

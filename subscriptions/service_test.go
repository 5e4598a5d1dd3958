package subscriptions

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// serviceTestStore is a minimal Store for the Service tests: a map, no announcements.
type serviceTestStore struct {
	mu      sync.Mutex
	subs    map[string]*Subscription
	version int64
	fail    error // returned by every call when set
}

func newServiceTestStore() *serviceTestStore {
	return &serviceTestStore{subs: map[string]*Subscription{}}
}

func cloneSub(s *Subscription) *Subscription {
	c := *s
	c.Events = slices.Clone(s.Events)
	c.Secrets = slices.Clone(s.Secrets)
	return &c
}

func (m *serviceTestStore) Create(_ context.Context, sub *Subscription, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.subs[sub.ID]; ok {
		return ErrConflict
	}
	n := 0
	for _, s := range m.subs {
		if s.AccountID == sub.AccountID {
			n++
		}
	}
	if max > 0 && n >= max {
		return ErrAccountLimit
	}
	m.version++
	sub.Version = m.version
	m.subs[sub.ID] = cloneSub(sub)
	return nil
}

func (m *serviceTestStore) Get(_ context.Context, id string) (*Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	s, ok := m.subs[id]
	if !ok {
		return nil, ErrNotFound
	}
	return cloneSub(s), nil
}

func (m *serviceTestStore) Update(_ context.Context, sub *Subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	old, ok := m.subs[sub.ID]
	if !ok {
		return ErrNotFound
	}
	if old.Version != sub.Version {
		return ErrVersionMismatch
	}
	m.version++
	sub.Version = m.version
	m.subs[sub.ID] = cloneSub(sub)
	return nil
}

func (m *serviceTestStore) Delete(_ context.Context, id string, version int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.subs[id]
	if !ok {
		return ErrNotFound
	}
	if version != AnyVersion && old.Version != version {
		return ErrVersionMismatch
	}
	delete(m.subs, id)
	return nil
}

func (m *serviceTestStore) List(context.Context, ListOptions) ([]*Subscription, string, error) {
	return nil, "", errors.New("not used")
}
func (m *serviceTestStore) Load(context.Context) (int64, []*Subscription, error) {
	return 0, nil, errors.New("not used")
}
func (m *serviceTestStore) Version(context.Context) (int64, error) { return m.version, nil }
func (m *serviceTestStore) Watch(context.Context, int64, func(Change)) error {
	return errors.New("not used")
}

var _ Store = (*serviceTestStore)(nil)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestService(t *testing.T) (*Service, *serviceTestStore, *testClock) {
	t.Helper()
	store := newServiceTestStore()
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	policy := Policy{
		Catalogue:        []string{"claim.created", "claim.closed", "contact.created"},
		MaxPerAccount:    2,
		RotationGrace:    24 * time.Hour,
		RotationGraceMax: 7 * 24 * time.Hour,
	}
	return NewService(store, policy, clock.Now), store, clock
}

func validInput() Input {
	return Input{AccountID: "acct_a", URL: "https://hooks.example.com/x", Events: []string{"claim.created"}}
}

func problemFields(t *testing.T, err error) []string {
	t.Helper()
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	var out []string
	for _, p := range v.Problems {
		out = append(out, p.Field)
	}
	return out
}

func TestServiceCreateAssignsIDSecretTimestampsAndEnables(t *testing.T) {
	svc, store, clock := newTestService(t)
	sub, err := svc.Create(t.Context(), validInput())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sub.ID, "sub_") || !sub.Enabled || sub.Version == 0 {
		t.Fatalf("id %q enabled %v version %d", sub.ID, sub.Enabled, sub.Version)
	}
	if !sub.CreatedAt.Equal(clock.Now()) || !sub.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("timestamps %v %v", sub.CreatedAt, sub.UpdatedAt)
	}
	if len(sub.Secrets) != 1 || CheckSecret(sub.Secrets[0].Value) != nil {
		t.Fatalf("secrets %d, first valid: %v", len(sub.Secrets), CheckSecret(sub.Secrets[0].Value))
	}
	stored, err := store.Get(t.Context(), sub.ID)
	if err != nil || stored.Secrets[0].Value != sub.Secrets[0].Value {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	other, _ := svc.Create(t.Context(), validInput())
	if other.Secrets[0].Value == sub.Secrets[0].Value {
		t.Fatal("two subscriptions got the same generated secret")
	}
}

func TestServiceCreateHonoursGivenSecretAndDisabled(t *testing.T) {
	svc, _, _ := newTestService(t)
	in := validInput()
	in.Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	off := false
	in.Enabled = &off
	sub, err := svc.Create(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Secrets[0].Value != in.Secret || sub.Enabled {
		t.Fatalf("secret %q enabled %v", sub.Secrets[0].Value, sub.Enabled)
	}
}

func TestServiceCreateRejectsBadSecretAndInvalidFieldsTogether(t *testing.T) {
	svc, _, _ := newTestService(t)
	for _, secret := range []string{"plain", "whsec_!!!", "whsec_c2hvcnQ="} {
		in := validInput()
		in.URL = ""
		in.Secret = secret
		_, err := svc.Create(t.Context(), in)
		got := problemFields(t, err)
		if !slices.Contains(got, "url") || !slices.Contains(got, "secret") {
			t.Errorf("secret %q: fields %v, want url and secret", secret, got)
		}
	}
}

func TestServiceCreatePassesAccountLimitThrough(t *testing.T) {
	svc, _, _ := newTestService(t)
	for range 2 {
		if _, err := svc.Create(t.Context(), validInput()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Create(t.Context(), validInput()); !errors.Is(err, ErrAccountLimit) {
		t.Fatalf("third create: %v, want ErrAccountLimit", err)
	}
}

func TestServiceUpdateAppliesOnlyGivenFields(t *testing.T) {
	svc, _, clock := newTestService(t)
	in := validInput()
	in.Description = "keep me"
	sub, _ := svc.Create(t.Context(), in)
	clock.Advance(time.Minute)
	url := "https://other.example.com/y"
	events := []string{"claim.closed", "contact.created"}
	got, err := svc.Update(t.Context(), sub.ID, Patch{URL: &url, Events: &events}, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != url || !slices.Equal(got.Events, events) || got.Description != "keep me" {
		t.Fatalf("got %+v", got)
	}
	if !got.UpdatedAt.Equal(clock.Now()) || !got.CreatedAt.Equal(sub.CreatedAt) || got.Version <= sub.Version {
		t.Fatalf("updated %v created %v version %d", got.UpdatedAt, got.CreatedAt, got.Version)
	}
	if got.Secrets[0].Value != sub.Secrets[0].Value {
		t.Fatal("an update without a secret changed the secret")
	}
}

func TestServiceUpdateValidatesResultAndKeepsStoreUnchanged(t *testing.T) {
	svc, store, _ := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	empty := []string{}
	_, err := svc.Update(t.Context(), sub.ID, Patch{Events: &empty}, AnyVersion)
	if got := problemFields(t, err); !slices.Equal(got, []string{"events"}) {
		t.Fatalf("fields %v", got)
	}
	stored, _ := store.Get(t.Context(), sub.ID)
	if len(stored.Events) != 1 {
		t.Fatalf("invalid update reached the store: %v", stored.Events)
	}
	same, err := svc.Update(t.Context(), sub.ID, Patch{}, AnyVersion)
	if err != nil || same.Version != sub.Version {
		t.Fatalf("empty patch: version %d→%d, %v", sub.Version, same.Version, err)
	}
	if _, err := svc.Update(t.Context(), "sub_missing", Patch{}, AnyVersion); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestServiceDisableIsIdempotentAndReenableClearsReason(t *testing.T) {
	svc, store, _ := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	if err := svc.Disable(t.Context(), sub.ID, "endpoint_gone"); err != nil {
		t.Fatal(err)
	}
	first, _ := store.Get(t.Context(), sub.ID)
	if first.Enabled || first.DisabledReason != "endpoint_gone" {
		t.Fatalf("after disable: enabled %v reason %q", first.Enabled, first.DisabledReason)
	}
	if err := svc.Disable(t.Context(), sub.ID, "failing_since:x"); err != nil {
		t.Fatal(err)
	}
	second, _ := store.Get(t.Context(), sub.ID)
	if second.Version != first.Version || second.DisabledReason != "endpoint_gone" {
		t.Fatalf("second disable changed it: version %d→%d reason %q", first.Version, second.Version, second.DisabledReason)
	}
	on := true
	got, err := svc.Update(t.Context(), sub.ID, Patch{Enabled: &on}, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || got.DisabledReason != "" {
		t.Fatalf("re-enabled: enabled %v reason %q", got.Enabled, got.DisabledReason)
	}
	if err := svc.Disable(t.Context(), "sub_missing", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestServiceRotateKeepsPreviousForGraceThenDropsIt(t *testing.T) {
	svc, _, clock := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	old := sub.Secrets[0].Value
	got, err := svc.Rotate(t.Context(), sub.ID, 0, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 2 || got.Secrets[0].Value == old || got.Secrets[1].Value != old {
		t.Fatalf("secrets after rotate: %+v", got.Secrets)
	}
	if want := clock.Now().Add(24 * time.Hour); !got.Secrets[1].ExpiresAt.Equal(want) {
		t.Fatalf("previous expires %v, want %v (default grace)", got.Secrets[1].ExpiresAt, want)
	}
	if !got.Secrets[0].ExpiresAt.IsZero() {
		t.Fatal("current secret has an expiry")
	}
	if v := got.ValidSecrets(clock.Now()); len(v) != 2 {
		t.Fatalf("valid secrets during grace: %d", len(v))
	}
	clock.Advance(25 * time.Hour)
	again, err := svc.Rotate(t.Context(), sub.ID, time.Hour, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Secrets) != 2 || again.Secrets[1].Value != got.Secrets[0].Value {
		t.Fatalf("expired previous not dropped: %+v", again.Secrets)
	}
	if want := clock.Now().Add(time.Hour); !again.Secrets[1].ExpiresAt.Equal(want) {
		t.Fatalf("explicit grace: expires %v, want %v", again.Secrets[1].ExpiresAt, want)
	}
}

func TestServiceRotateRejectsGraceOutOfBounds(t *testing.T) {
	svc, _, _ := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	for _, g := range []time.Duration{8 * 24 * time.Hour, -time.Second} {
		_, err := svc.Rotate(t.Context(), sub.ID, g, AnyVersion)
		if got := problemFields(t, err); !slices.Equal(got, []string{"grace"}) {
			t.Errorf("grace %v: fields %v", g, got)
		}
	}
	if _, err := svc.Rotate(t.Context(), "sub_missing", 0, AnyVersion); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestServiceSecretPatchRotatesWithDefaultGrace(t *testing.T) {
	svc, _, clock := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	next := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	got, err := svc.Update(t.Context(), sub.ID, Patch{Secret: &next}, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 2 || got.Secrets[0].Value != next || !got.Secrets[1].ExpiresAt.Equal(clock.Now().Add(24*time.Hour)) {
		t.Fatalf("secrets %+v", got.Secrets)
	}
	same, err := svc.Update(t.Context(), sub.ID, Patch{Secret: &next}, AnyVersion)
	if err != nil || len(same.Secrets) != 2 {
		t.Fatalf("same secret again rotated: %+v, %v", same.Secrets, err)
	}
	bad := "nope"
	_, err = svc.Update(t.Context(), sub.ID, Patch{Secret: &bad}, AnyVersion)
	if got := problemFields(t, err); !slices.Equal(got, []string{"secret"}) {
		t.Fatalf("fields %v", got)
	}
}

func TestServiceStoreUnavailablePassesThrough(t *testing.T) {
	svc, store, _ := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	store.fail = ErrUnavailable
	if _, err := svc.Create(t.Context(), validInput()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("create: %v", err)
	}
	if _, err := svc.Rotate(t.Context(), sub.ID, 0, AnyVersion); !errors.Is(err, ErrUnavailable) {
		t.Errorf("rotate: %v", err)
	}
	if err := svc.Disable(t.Context(), sub.ID, "x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("disable: %v", err)
	}
}

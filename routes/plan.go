package routes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/claimable/eventrouter/subscriptions"
)

// Action is what a Step does.
type Action string

// Actions, in the order a Plan lists them.
const (
	ActionCreate    Action = "create"
	ActionUpdate    Action = "update"
	ActionUnchanged Action = "unchanged"
	ActionDelete    Action = "delete"
)

// FieldChange is one field's difference. Old and New are already safe to print: secret
// and header values are never included, and URLs are redacted (subscriptions.RedactURL).
type FieldChange struct {
	Field    string
	Old, New string
}

// Step is what Apply does for one route (or, for deletes, one managed subscription).
type Step struct {
	Action    Action
	AccountID string
	Name      string
	// ID is the existing subscription's id; "" for a create.
	ID string
	// Changes lists the fields a create sets or an update changes.
	Changes []FieldChange

	input subscriptions.Input
	patch subscriptions.Patch
}

// Plan is the set of steps that brings the store in line with a routes file. It is
// computed against one moment's store: apply it promptly.
type Plan struct {
	Steps []Step
	svc   *subscriptions.Service
}

// Count returns how many steps have action a.
func (p *Plan) Count(a Action) int {
	n := 0
	for _, s := range p.Steps {
		if s.Action == a {
			n++
		}
	}
	return n
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return len(p.Steps) != p.Count(ActionUnchanged) }

// NewPlan compares f with the subscriptions in svc's store and returns the steps to apply.
// Every route is first checked against svc's Policy; problems come back together as an
// *Error naming each field ("routes[3].url: …"). With prune, subscriptions that carry a
// route name (created from a routes file) but are absent from f are deleted; without it
// they are left alone. Store errors (e.g. subscriptions.ErrUnavailable) are returned
// wrapped.
func NewPlan(ctx context.Context, svc *subscriptions.Service, f *File, prune bool) (*Plan, error) {
	if err := check(svc.Policy(), f); err != nil {
		return nil, err
	}
	existing, err := managed(ctx, svc)
	if err != nil {
		return nil, err
	}
	plan := &Plan{svc: svc}
	for _, r := range f.Routes {
		key := r.AccountID + "\x00" + r.Name
		cur, ok := existing[key]
		delete(existing, key)
		if !ok {
			plan.Steps = append(plan.Steps, createStep(r))
			continue
		}
		plan.Steps = append(plan.Steps, updateStep(r, cur))
	}
	if prune {
		var gone []*subscriptions.Subscription
		for _, sub := range existing {
			gone = append(gone, sub)
		}
		sort.Slice(gone, func(i, j int) bool { return gone[i].ID < gone[j].ID })
		for _, sub := range gone {
			plan.Steps = append(plan.Steps, Step{Action: ActionDelete, AccountID: sub.AccountID, Name: sub.Name, ID: sub.ID})
		}
	}
	return plan, nil
}

// check validates every route as the subscription it would become.
func check(policy subscriptions.Policy, f *File) error {
	var problems []string
	for i, r := range f.Routes {
		sub := desired(r)
		if r.Secret != "" {
			sub.Secrets = []subscriptions.Secret{{Value: string(r.Secret)}}
		}
		err := policy.Validate(sub)
		var v *subscriptions.ValidationError
		if errors.As(err, &v) {
			for _, p := range v.Problems {
				field := p.Field
				if strings.HasPrefix(field, "secrets") {
					field = "secret"
				}
				problems = append(problems, fmt.Sprintf("routes[%d].%s: %s", i, field, p.Message))
			}
		} else if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// managed returns every subscription that carries a route name, by (account, name).
func managed(ctx context.Context, svc *subscriptions.Service) (map[string]*subscriptions.Subscription, error) {
	out := map[string]*subscriptions.Subscription{}
	opts := subscriptions.ListOptions{Limit: 1000}
	for {
		subs, next, err := svc.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("routes: list subscriptions: %w", err)
		}
		for _, s := range subs {
			if s.Name != "" {
				out[s.AccountID+"\x00"+s.Name] = s
			}
		}
		if next == "" || len(subs) == 0 {
			return out, nil
		}
		opts.After = next
	}
}

// desired is the subscription a route declares (without id, secrets or timestamps).
func desired(r Route) *subscriptions.Subscription {
	return &subscriptions.Subscription{
		AccountID:   r.AccountID,
		URL:         r.URL,
		Events:      r.Events,
		Filter:      r.Filter,
		Enabled:     r.Enabled == nil || *r.Enabled,
		Headers:     r.Headers,
		RateLimit:   r.RateLimit,
		MaxInFlight: r.MaxInFlight,
		Description: r.Description,
		Payload:     r.Payload,
		Redact:      r.Redact,
		Name:        r.Name,
	}
}

func createStep(r Route) Step {
	d := desired(r)
	enabled := d.Enabled
	st := Step{Action: ActionCreate, AccountID: r.AccountID, Name: r.Name, input: subscriptions.Input{
		AccountID: r.AccountID, URL: r.URL, Events: r.Events, Filter: r.Filter, Enabled: &enabled,
		Secret: string(r.Secret), Headers: r.Headers, RateLimit: r.RateLimit,
		MaxInFlight: r.MaxInFlight, Description: r.Description, Name: r.Name,
		Payload: r.Payload, Redact: r.Redact,
	}}
	add := func(field, val string) {
		if val != "" {
			st.Changes = append(st.Changes, FieldChange{Field: field, New: val})
		}
	}
	add("url", subscriptions.RedactURL(d.URL))
	add("events", showList(d.Events))
	add("filter", d.Filter)
	add("enabled", strconv.FormatBool(d.Enabled))
	add("headers", showHeaderNames(d.Headers))
	if d.RateLimit != 0 {
		add("rate_limit_per_sec", strconv.FormatFloat(d.RateLimit, 'g', -1, 64))
	}
	if d.MaxInFlight != 0 {
		add("max_in_flight", strconv.Itoa(d.MaxInFlight))
	}
	add("description", d.Description)
	add("payload", d.Payload)
	if len(d.Redact) > 0 {
		add("redact", showList(d.Redact))
	}
	if r.Secret != "" {
		add("secret", "(set)")
	} else {
		add("secret", "(generated)")
	}
	return st
}

func updateStep(r Route, cur *subscriptions.Subscription) Step {
	d := desired(r)
	st := Step{Action: ActionUpdate, AccountID: r.AccountID, Name: r.Name, ID: cur.ID}
	change := func(field, old, new string) {
		st.Changes = append(st.Changes, FieldChange{Field: field, Old: old, New: new})
	}
	if d.URL != cur.URL {
		st.patch.URL = &d.URL
		old, next := subscriptions.RedactURL(cur.URL), subscriptions.RedactURL(d.URL)
		if old == next {
			// Only the (redacted) query string or userinfo differs: say so without showing it.
			next += " (query changed)"
		}
		change("url", old, next)
	}
	if !sameSet(d.Events, cur.Events) {
		ev := slices.Clone(d.Events)
		st.patch.Events = &ev
		change("events", showList(cur.Events), showList(d.Events))
	}
	if d.Filter != cur.Filter {
		st.patch.Filter = &d.Filter
		change("filter", cur.Filter, d.Filter)
	}
	if d.Enabled != cur.Enabled {
		st.patch.Enabled = &d.Enabled
		old := strconv.FormatBool(cur.Enabled)
		if cur.DisabledReason != "" {
			old += " (" + cur.DisabledReason + ")"
		}
		change("enabled", old, strconv.FormatBool(d.Enabled))
	}
	if !maps.Equal(d.Headers, cur.Headers) {
		h := maps.Clone(d.Headers)
		if h == nil {
			h = map[string]string{}
		}
		st.patch.Headers = &h
		change("headers", showHeaderNames(cur.Headers), showHeaderNames(d.Headers)+" (values not shown)")
	}
	if d.RateLimit != cur.RateLimit {
		st.patch.RateLimit = &d.RateLimit
		change("rate_limit_per_sec", strconv.FormatFloat(cur.RateLimit, 'g', -1, 64), strconv.FormatFloat(d.RateLimit, 'g', -1, 64))
	}
	if d.MaxInFlight != cur.MaxInFlight {
		st.patch.MaxInFlight = &d.MaxInFlight
		change("max_in_flight", strconv.Itoa(cur.MaxInFlight), strconv.Itoa(d.MaxInFlight))
	}
	if d.Description != cur.Description {
		st.patch.Description = &d.Description
		change("description", cur.Description, d.Description)
	}
	if d.Payload != cur.Payload {
		st.patch.Payload = &d.Payload
		change("payload", cur.Payload, d.Payload)
	}
	if !slices.Equal(d.Redact, cur.Redact) {
		r := slices.Clone(d.Redact)
		st.patch.Redact = &r
		change("redact", showList(cur.Redact), showList(d.Redact))
	}
	if r.Secret != "" && (len(cur.Secrets) == 0 || cur.Secrets[0].Value != string(r.Secret)) {
		s := string(r.Secret)
		st.patch.Secret = &s
		change("secret", "(set)", "(changed; the old one stays valid for the rotation grace)")
	}
	if len(st.Changes) == 0 {
		st.Action = ActionUnchanged
	}
	return st
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func showList(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

func showHeaderNames(h map[string]string) string {
	if len(h) == 0 {
		return ""
	}
	return showList(slices.Sorted(maps.Keys(h)))
}

// Apply carries out the plan's steps in order and stops at the first failure, returning
// an error naming the step; steps before it stay applied, and planning again from the
// file resumes where it stopped. Deleting a subscription already gone is not an error.
func Apply(ctx context.Context, p *Plan) error {
	for _, st := range p.Steps {
		var err error
		switch st.Action {
		case ActionCreate:
			_, err = p.svc.Create(ctx, st.input)
		case ActionUpdate:
			_, err = p.svc.Update(ctx, st.ID, st.patch, subscriptions.AnyVersion) // retried on conflict
		case ActionDelete:
			if err = p.svc.Delete(ctx, st.ID, subscriptions.AnyVersion); errors.Is(err, subscriptions.ErrNotFound) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("routes: %s %s/%s: %w", st.Action, st.AccountID, st.Name, err)
		}
	}
	return nil
}

package bench

import (
	"context"
	"fmt"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/claimable/eventrouter/subscriptions"
)

// seeded is one subscription the benchmark created.
type seeded struct {
	ID     string
	Index  int    // position in creation order: its receiver path is /hook/<Index>
	Secret string // current signing secret
}

// hookPath is subscription i's path on the receiver.
func hookPath(i int) string { return "/hook/" + strconv.Itoa(i) }

// seedPlan returns, for every subscription index, its account index and whether it
// matches the produced events: account a owns indexes [a*per, (a+1)*per), of which the
// first fanout match.
func seedPlan(subs, accounts, fanout int) (account []int, matches []bool) {
	per := subs / accounts
	account = make([]int, subs)
	matches = make([]bool, subs)
	for i := range subs {
		account[i] = i / per
		matches[i] = i%per < fanout
	}
	return account, matches
}

// seed creates the subscriptions of c through svc with c.SeedWorkers concurrent writers
// (each write is one Lua script on Redis), pointing at the receiver on port, and returns
// per account the matching subscriptions (the expected fan-out of its events) and the
// whole list.
func seed(ctx context.Context, svc *subscriptions.Service, c Config, run string, port int) (byAccount [][]seeded, all []seeded, err error) {
	account, matches := seedPlan(c.Subscriptions, c.Accounts, c.Fanout)
	all = make([]seeded, c.Subscriptions)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.SeedWorkers)
	for i := range c.Subscriptions {
		g.Go(func() error {
			evs := []string{"*"}
			if !matches[i] {
				evs = []string{nonMatchingEvent}
			}
			sub, err := svc.Create(gctx, subscriptions.Input{
				AccountID:   accountID(run, account[i]),
				URL:         fmt.Sprintf("http://127.0.0.1:%d%s", port, hookPath(i)),
				Events:      evs,
				Description: "eventrouter bench " + run,
			})
			if err != nil {
				return fmt.Errorf("bench: seed subscription %d: %w", i, err)
			}
			all[i] = seeded{ID: sub.ID, Index: i, Secret: sub.Secrets[0].Value}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	byAccount = make([][]seeded, c.Accounts)
	for i, s := range all {
		if matches[i] {
			byAccount[account[i]] = append(byAccount[account[i]], s)
		}
	}
	return byAccount, all, nil
}

// secrets maps receiver paths to secrets, for registering with the receiver.
func secrets(all []seeded) map[string]string {
	m := make(map[string]string, len(all))
	for _, s := range all {
		m[hookPath(s.Index)] = s.Secret
	}
	return m
}

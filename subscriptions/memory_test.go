package subscriptions_test

import (
	"testing"

	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) subscriptions.Store { return subscriptions.NewMemoryStore() })
}

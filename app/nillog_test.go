package app

import (
	"context"
	"testing"
	"time"

	"github.com/claimable/eventrouter/config"
)

// A nil *zap.Logger is a no-op logger: the supervisor logs its shutdown and the Kafka
// options name a child logger, neither of which may panic.
func TestNilLoggerIsNoOp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	waiter := RunFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
	if err := Supervise(ctx, time.Second, nil, waiter); err != nil {
		t.Fatalf("Supervise with a nil logger: %v", err)
	}
	cl, err := KafkaClient(config.Default(), nil)
	if err != nil {
		t.Fatalf("KafkaClient with a nil logger: %v", err)
	}
	cl.Close()
	if ops := NewOps("127.0.0.1:0", nil); ops == nil {
		t.Fatal("NewOps with a nil logger returned nil")
	}
}

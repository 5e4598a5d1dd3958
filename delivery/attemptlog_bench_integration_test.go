//go:build integration

package delivery

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/internal/testenv"
)

// cmdCounter counts the commands a client sends, pipelined or not.
type cmdCounter struct{ n atomic.Int64 }

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// BenchmarkAttemptLogWriteBatch measures what the attempt writer's batches cost on a real
// redis-server, per attempt: commands sent, this process's CPU (user+system, so the
// pipeline's syscalls count) and the server's CPU. Attempts are spread over 10
// subscriptions, each a delivery of its own, with a small response, as in the latency
// bench. The server's CPU is its INFO figure, so it means something only on a Redis of
// its own: EVENTROUTER_TEST_REDIS=127.0.0.1:<port> of a private redis-server.
// Run: go test -tags integration -run '^$' -bench AttemptLogWriteBatch ./delivery/
func BenchmarkAttemptLogWriteBatch(b *testing.B) {
	for _, size := range []int{1, 2, 4, 16, 64} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			rdb, prefix := testenv.RedisDB(b)
			var cmds cmdCounter
			rdb.AddHook(&cmds)
			l := NewAttemptLog(rdb, AttemptLogOptions{Prefix: prefix, MaxPerSubscription: 1000, TTL: time.Hour})
			ctx := context.Background()
			mk := func(i int) Attempt {
				a := attempt(fmt.Sprintf("dlv_%d", i), 1, ReasonOK, true)
				a.SubscriptionID = fmt.Sprintf("sub_%d", i%10)
				a.Response = "accepted"
				return a
			}
			warm := make([]Attempt, 0, 200)
			for i := range 200 { // warm: connection, lists at a steady length
				warm = append(warm, mk(-1-i))
			}
			for w := range slices.Chunk(warm, size) {
				if err := l.WriteBatch(ctx, w, nil); err != nil {
					b.Fatal(err)
				}
			}
			// Built before the clock starts, so the CPU figures are the writes' alone.
			all := make([]Attempt, b.N*size)
			for i := range all {
				all[i] = mk(i)
			}
			cmds.n.Store(0)
			srv0 := redisCPU(b, rdb)
			cpu0 := processCPU()
			b.ResetTimer()
			for i := range b.N {
				if err := l.WriteBatch(ctx, all[i*size:(i+1)*size], nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N * size)
			b.ReportMetric(float64(cmds.n.Load())/n, "cmds/attempt")
			b.ReportMetric(float64(processCPU()-cpu0)/n/1e3, "cpu-µs/attempt")
			b.ReportMetric(float64(redisCPU(b, rdb)-srv0)/n/1e3, "redis-cpu-µs/attempt")
		})
	}
}

// processCPU is this process's user+system CPU time so far, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// redisCPU is the server's used_cpu_user+used_cpu_sys, in nanoseconds.
func redisCPU(b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return int64(total * 1e9)
}

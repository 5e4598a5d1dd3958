package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/devsamples"
	"github.com/claimable/eventrouter/internal/receiver"
	"github.com/claimable/eventrouter/subscriptions"
)

// DevOptions configures `eventrouter dev`.
type DevOptions struct {
	// KafkaAddr is where the embedded Kafka listens (default 127.0.0.1:19092, beside a
	// real broker's 9092).
	KafkaAddr string
	// ReceiverAddr is where the demo receiver listens (default 127.0.0.1:9000).
	ReceiverAddr string
	// Interval between rounds of sample events (one of every catalogue name); 0 stops
	// the samples (default 1s from the command).
	Interval time.Duration
	// Out receives the banner and one line per delivery.
	Out io.Writer
}

// DemoAccount owns dev mode's demo subscription and sample events.
const DemoAccount = "acct_demo"

// RunDev runs the whole system in one process on an in-process Kafka (kfake) and Redis
// (miniredis): router, sender, admin API, a demo receiver that verifies every signature,
// a demo subscription, and sample events. It returns nil when ctx ends.
func RunDev(ctx context.Context, cfg config.Config, opts DevOptions, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	kafkaHost, kafkaPort, err := splitPort(opts.KafkaAddr, "127.0.0.1:19092")
	if err != nil {
		return fmt.Errorf("dev: kafka address: %w", err)
	}
	specs := TopicSpecs(cfg, true)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(kafkaPort),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(kafkaHost, strconv.Itoa(kafkaPort)))
		}),
		kfake.SeedTopics(3, names...))
	if err != nil {
		return fmt.Errorf("dev: embedded kafka on %s:%d: %w", kafkaHost, kafkaPort, err)
	}
	defer cluster.Close()
	mini := miniredis.NewMiniRedis()
	if err := mini.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("dev: embedded redis: %w", err)
	}
	defer mini.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	defer rdb.Close()

	recvAddr := opts.ReceiverAddr
	if recvAddr == "" {
		recvAddr = "127.0.0.1:9000"
	}
	ln, err := net.Listen("tcp", recvAddr)
	if err != nil {
		return fmt.Errorf("dev: demo receiver: %w", err)
	}
	recvPort := ln.Addr().(*net.TCPAddr).Port

	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Redis.Addr = mini.Addr()
	cfg.Egress.AllowHTTP = true
	cfg.Egress.AllowCIDRs = append(cfg.Egress.AllowCIDRs, netip.MustParsePrefix("127.0.0.0/8").String())
	cfg.Egress.AllowPorts = append(cfg.Egress.AllowPorts, recvPort)
	if len(cfg.Subscriptions.EncryptionKeys) == 0 && cfg.Subscriptions.EncryptionKey == "" {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		cfg.Subscriptions.EncryptionKeys = []string{base64.StdEncoding.EncodeToString(key)}
	}
	if len(cfg.API.AdminTokens) == 0 {
		cfg.API.AdminTokens = []string{"dev_" + randomHex(16)}
	}

	tuneGoRuntime(cfg.Ops, os.ReadFile, log)
	ops := NewOps(cfg.Ops.Listen, log)
	if cfg.Ops.Pprof {
		ops.ServeProfiles()
	}
	sys, err := Build(cfg, Roles{Router: true, Sender: true, API: true}, Infra{Redis: rdb}, log, ops)
	if err != nil {
		return err
	}
	defer sys.Close()

	out := opts.Out
	recv := receiver.New(func(d receiver.Delivery) { fmt.Fprintln(out, deliveryLine(d)) })
	sub, err := sys.Service.Create(ctx, subscriptions.Input{
		AccountID:   DemoAccount,
		URL:         fmt.Sprintf("http://127.0.0.1:%d/webhooks/demo", recvPort),
		Events:      []string{"*"},
		Description: "dev mode demo subscription: every event of " + DemoAccount,
	})
	if err != nil {
		return fmt.Errorf("dev: demo subscription: %w", err)
	}
	if err := recv.SetSecret("/webhooks/demo", sub.Secrets[0].Value); err != nil {
		return err
	}

	printBanner(out, cfg, sub, recvPort)
	recvSrv := &http.Server{Handler: recv, ReadHeaderTimeout: 5 * time.Second}
	recvErr := make(chan error, 1)
	go func() { recvErr <- recvSrv.Serve(ln) }()
	runners := []Runner{ops, RunFunc(func(ctx context.Context) error {
		select {
		case err := <-recvErr: // the receiver failed: stop everything
			return fmt.Errorf("dev: demo receiver: %w", err)
		case <-ctx.Done():
			return nil
		}
	})}
	if opts.Interval > 0 {
		runners = append(runners, &devsamples.SampleProducer{
			Brokers: cfg.Kafka.Brokers, Topics: cfg.Topics, Catalogue: cfg.Events.Catalogue,
			Account: DemoAccount, Interval: opts.Interval, Log: log.Named("samples"),
		})
	}
	err = Supervise(ctx, cfg.Ops.ShutdownTimeout, log, append(runners, sys.Runners...)...)
	// The demo receiver stands for a customer's endpoint, so it outlives the sender:
	// deliveries still in flight while the sender drains reach it, and by now the
	// sender has closed its connections, so Shutdown has none to wait for.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := recvSrv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("dev: demo receiver shutdown: %w", serr)
	}
	return err
}

func deliveryLine(d receiver.Delivery) string {
	verified := "verified=yes"
	if !d.Verified {
		verified = "verified=no reason=" + strconv.Quote(d.VerifyErr)
	}
	return fmt.Sprintf("delivery %-20s object=%s performed_by=%s source=%s attempt=%d webhook-id=%s %s",
		d.EventName, d.ObjectID, d.PerformedBy, d.Source, d.Attempt, d.WebhookID, verified)
}

func printBanner(w io.Writer, cfg config.Config, sub *subscriptions.Subscription, recvPort int) {
	fmt.Fprintf(w, `eventrouter dev: everything in one process on embedded Kafka and Redis

  Kafka bootstrap   %s   (ingest topics: %v)
  Redis             %s
  admin API         http://%s   token: %s
  delivery log      http://%s/ui/   (paste the token)
  ops               http://%s/metrics  /healthz  /readyz
  demo receiver     http://127.0.0.1:%d/webhooks/demo  (verifies every signature)
  demo subscription %s  account %s  events [*]

Produce your own events and watch them arrive:
  go run ./cmd/eventrouter emit --brokers %s --event claim.closed --account %s

Ask why a subscription did (or did not) get an event, given the event as produced:
  go run ./cmd/eventrouter explain --api http://%s --token %s --subscription %s -f event.json

Replay everything since start-up to the demo subscription (dry run: counts only; then GET the Location):
  curl -si -X POST -H "Authorization: Bearer %s" -H 'Content-Type: application/json' http://%s/v1/replays \
    -d "{\"from\":\"%s\",\"to\":\"$(date -u +%%FT%%TZ)\",\"subscription_id\":\"%s\",\"dry_run\":true}"

Ctrl-C stops everything.

`, cfg.Kafka.Brokers[0], cfg.Topics.Ingest, cfg.Redis.Addr, displayAddr(cfg.API.Listen), cfg.API.AdminTokens[0],
		displayAddr(cfg.API.Listen), displayAddr(cfg.Ops.Listen), recvPort, sub.ID, sub.AccountID, cfg.Kafka.Brokers[0], sub.AccountID,
		displayAddr(cfg.API.Listen), cfg.API.AdminTokens[0], sub.ID,
		cfg.API.AdminTokens[0], displayAddr(cfg.API.Listen), time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), sub.ID)
}

func displayAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return "127.0.0.1:" + port
	}
	return listen
}

// serveRunner serves srv on ln until ctx ends, then shuts it down within five seconds.
func serveRunner(srv *http.Server, ln net.Listener) Runner {
	return RunFunc(func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}

func splitPort(addr, def string) (string, int, error) {
	if addr == "" {
		addr = def
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

//go:build integration

package app_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/delivery"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

// minimalACL is the rule set docs/operations.md recommends for eventrouter's Redis
// user, with its key pattern appended: this test proves it is enough for the store
// (Lua scripts, the change stream, blocking XREAD) and the attempt log.
var minimalACL = []string{"resetchannels", "-@all", "+@connection", "+@read", "+@write", "+@stream", "+@scripting", "+@transaction", "+@blocking"}

// aclUser creates a Redis ACL user allowed only keys under prefix, deleted when the
// test ends, and returns its name and password.
func aclUser(t *testing.T, admin *redis.Client, prefix string) (user, pass string) {
	t.Helper()
	user, pass = "er-test-"+randomHex(t), randomHex(t)
	args := []any{"ACL", "SETUSER", user, "reset", "on", ">" + pass, "~" + prefix + "*"}
	for _, r := range minimalACL {
		args = append(args, r)
	}
	ctx := testenv.Context(t, 5*time.Second)
	if err := admin.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := admin.Do(ctx, "ACL", "DELUSER", user).Err(); err != nil {
			t.Logf("ACL DELUSER %s: %v", user, err)
		}
	})
	return user, pass
}

func TestNewRedisACLUserRealRedis(t *testing.T) {
	admin, prefix := testenv.RedisDB(t)
	user, pass := aclUser(t, admin, prefix)
	ctx := testenv.Context(t, 30*time.Second)

	c, err := app.NewRedis(config.Redis{Addr: testenv.RedisAddr(), Username: user, Password: pass, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ACL user: PING: %v", err)
	}

	t.Run("the store works within the key pattern", func(t *testing.T) {
		store, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: prefix, WatchBlock: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		before, err := store.Version(ctx)
		if err != nil {
			t.Fatalf("Version: %v", err)
		}
		changes := make(chan subscriptions.Change, 1)
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			_ = store.Watch(wctx, before, func(ch subscriptions.Change) {
				select {
				case changes <- ch:
				default:
				}
			})
		}()
		sub := storetest.NewSub("acct_acl")
		if err := store.Create(ctx, sub, 0); err != nil {
			t.Fatalf("Create (Lua script) as the ACL user: %v", err)
		}
		if _, err := store.Get(ctx, sub.ID); err != nil {
			t.Fatalf("Get: %v", err)
		}
		if _, subs, err := store.Load(ctx); err != nil || len(subs) != 1 {
			t.Fatalf("Load: %d subscriptions, %v; want 1", len(subs), err)
		}
		select {
		case ch := <-changes:
			if ch.ID != sub.ID {
				t.Errorf("Watch saw a change of %s, want %s", ch.ID, sub.ID)
			}
		case <-ctx.Done():
			t.Fatal("Watch (XREAD BLOCK) saw no change as the ACL user")
		}
	})

	t.Run("the attempt log works within the key pattern", func(t *testing.T) {
		log := delivery.NewAttemptLog(c, delivery.AttemptLogOptions{Prefix: prefix, MaxPerSubscription: 10, TTL: time.Hour})
		a := delivery.Attempt{DeliveryID: "dlv_acl", SubscriptionID: "sub_acl", AccountID: "acct_acl", Attempt: 1, At: time.Now().UTC(), Status: 200}
		if err := log.Record(ctx, a); err != nil {
			t.Fatalf("Record as the ACL user: %v", err)
		}
		got, err := log.List(ctx, "sub_acl", 10)
		if err != nil || len(got) != 1 || got[0].DeliveryID != "dlv_acl" {
			t.Fatalf("List: %+v, %v; want the recorded attempt", got, err)
		}
	})

	t.Run("keys outside the pattern are refused", func(t *testing.T) {
		outside := "er-test-outside-" + randomHex(t)
		err := c.Set(ctx, outside, "x", time.Minute).Err()
		if err == nil {
			_ = admin.Del(context.Background(), outside).Err()
			t.Fatal("the ACL user wrote a key outside its pattern")
		}
		if !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("got %v, want NOPERM", err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		bad, err := app.NewRedis(config.Redis{Addr: testenv.RedisAddr(), Username: user, Password: "wrong-" + pass})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = bad.Close() }()
		if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("got %v, want WRONGPASS", err)
		}
	})
}

// TestNewRedisTLSRealRedis starts its own redis-server with only a TLS port (Debian's
// build has TLS), so the shared server is not reconfigured.
func TestNewRedisTLSRealRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not on PATH (apt-get install redis-server): %v", err)
	}
	for _, mutual := range []bool{false, true} {
		t.Run(fmt.Sprintf("client certificates required=%v", mutual), func(t *testing.T) {
			p := testenv.NewPKI(t)
			serverCert, serverKey := p.LeafFiles(t, "server", "127.0.0.1", x509.ExtKeyUsageServerAuth)
			addr := startTLSRedis(t, bin, p.CAFile, serverCert, serverKey, mutual)
			ctx := testenv.Context(t, 20*time.Second)

			cfg := config.Redis{Addr: addr, TLS: config.TLS{Enabled: true, CAFile: p.CAFile}}
			if mutual {
				cfg.TLS.CertFile, cfg.TLS.KeyFile = p.ClientCert, p.ClientKey
			}
			if err := waitPing(ctx, cfg); err != nil {
				t.Fatalf("redis.tls.enabled with ca_file: %v", err)
			}
			if mutual {
				noCert := cfg
				noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
				if err := ping(t, noCert); err == nil {
					t.Error("tls-auth-clients yes accepted a client without a certificate")
				}
			}
			noCA := cfg
			noCA.TLS.CAFile = ""
			if err := ping(t, noCA); err == nil {
				t.Error("a self-signed server was trusted without ca_file")
			}
			if err := ping(t, config.Redis{Addr: addr}); err == nil {
				t.Error("a plaintext client talked to the TLS port")
			}
		})
	}
}

// startTLSRedis runs redis-server with --port 0 and a TLS port until the test ends and
// returns its address.
func startTLSRedis(t *testing.T, bin, caFile, certFile, keyFile string, mutual bool) string {
	t.Helper()
	port := testenv.FreePort(t)
	authClients := "no"
	if mutual {
		authClients = "yes"
	}
	dir := t.TempDir()
	cmd := exec.Command(bin,
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile,
		"--tls-auth-clients", authClients,
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// waitPing polls PING until the freshly started server answers or ctx ends.
func waitPing(ctx context.Context, cfg config.Redis) error {
	c, err := app.NewRedis(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

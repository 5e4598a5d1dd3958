package app_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/testenv"
)

// ping connects as cfg says and returns PING's error, bounded by a few seconds.
func ping(t *testing.T, cfg config.Redis) error {
	t.Helper()
	c, err := app.NewRedis(cfg)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func TestNewRedisACLUser(t *testing.T) {
	srv := miniredis.RunT(t)
	srv.RequireUserAuth("er-user", "right-pass")

	cfg := config.Redis{Addr: srv.Addr(), Username: "er-user", Password: "right-pass"}
	if err := ping(t, cfg); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	cfg.Password = "wrong-pass"
	if err := ping(t, cfg); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: got %v, want WRONGPASS", err)
	}
	if err := ping(t, config.Redis{Addr: srv.Addr()}); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("no credentials: got %v, want NOAUTH", err)
	}
}

func TestNewRedisPasswordOnly(t *testing.T) {
	// requirepass without ACL users: redis.password alone, no username.
	srv := miniredis.RunT(t)
	srv.RequireAuth("only-pass")
	if err := ping(t, config.Redis{Addr: srv.Addr(), Password: "only-pass"}); err != nil {
		t.Fatalf("password only: %v", err)
	}
}

func TestNewRedisDB(t *testing.T) {
	srv := miniredis.RunT(t)
	c, err := app.NewRedis(config.Redis{Addr: srv.Addr(), DB: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := srv.DB(3).Keys(); len(got) != 1 || got[0] != "k" {
		t.Errorf("redis.db 3: keys in DB 3 are %q, want [k]", got)
	}
	if got := srv.DB(0).Keys(); len(got) != 0 {
		t.Errorf("redis.db 3: DB 0 holds %q", got)
	}
}

func TestNewRedisTLS(t *testing.T) {
	p := testenv.NewPKI(t)
	srv := miniredis.NewMiniRedis()
	if err := srv.StartTLS(p.ServerTLS(t, "127.0.0.1", false)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	tlsCfg := config.TLS{Enabled: true, CAFile: p.CAFile}
	if err := ping(t, config.Redis{Addr: srv.Addr(), TLS: tlsCfg}); err != nil {
		t.Fatalf("redis.tls with ca_file: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if err := ping(t, config.Redis{Addr: srv.Addr(), TLS: config.TLS{Enabled: true}}); !errors.As(err, &unknown) {
		t.Errorf("without ca_file: got %v, want an unknown-authority error", err)
	}
	if err := ping(t, config.Redis{Addr: srv.Addr()}); err == nil {
		t.Error("a plaintext client talked to a TLS-only server")
	}
}

func TestNewRedisMutualTLS(t *testing.T) {
	p := testenv.NewPKI(t)
	srv := miniredis.NewMiniRedis()
	if err := srv.StartTLS(p.ServerTLS(t, "127.0.0.1", true)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	cfg := config.Redis{Addr: srv.Addr(), TLS: config.TLS{Enabled: true, CAFile: p.CAFile, CertFile: p.ClientCert, KeyFile: p.ClientKey}}
	if err := ping(t, cfg); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
	if err := ping(t, cfg); err == nil {
		t.Error("a server requiring client certificates accepted a client without one")
	}
}

func TestNewRedisTLSFileErrorsNameTheKey(t *testing.T) {
	for _, tc := range []config.TLS{
		{Enabled: true, CAFile: "/nonexistent/ca.pem"},
		{Enabled: true, CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"},
	} {
		_, err := app.NewRedis(config.Redis{Addr: "127.0.0.1:9", TLS: tc})
		if err == nil || !strings.Contains(err.Error(), "redis.tls") {
			t.Errorf("%+v: got %v, want an error naming redis.tls", tc, err)
		}
	}
}

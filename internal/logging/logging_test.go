package logging

import (
	"testing"

	"github.com/claimable/eventrouter/config"
)

func TestNewHonoursLevel(t *testing.T) {
	log, err := New(config.Log{Level: "warn", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	if log.Core().Enabled(-1) || log.Core().Enabled(0) {
		t.Fatal("debug and info must be disabled at level warn")
	}
	if !log.Core().Enabled(1) {
		t.Fatal("warn must be enabled at level warn")
	}
	if _, err := New(config.Log{Level: "loud"}); err == nil {
		t.Fatal("an unknown level must be refused")
	}
}

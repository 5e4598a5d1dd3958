package app

import (
	"reflect"
	"testing"
	"time"

	"github.com/claimable/eventrouter/config"
)

// Every sender setting of the configuration file reaches delivery.Config: with the
// defaults (and an instance id) no field of the translation is left zero, and each
// carries its key's value.
func TestSenderConfigCarriesEverySetting(t *testing.T) {
	cfg := config.Default()
	cfg.Kafka.InstanceID = "sender-a"
	cfg.Delivery.DrainTimeout = 7 * time.Second
	sc := senderConfig(cfg)
	v := reflect.ValueOf(sc)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("delivery.Config.%s is zero: not translated from the config", v.Type().Field(i).Name)
		}
	}
	if sc.Group != cfg.Delivery.Group || sc.DeliveriesTopic != cfg.Topics.Deliveries || sc.DLQTopic != cfg.Topics.DLQ ||
		sc.RetryPrefix != cfg.Topics.RetryPrefix || sc.DrainTimeout != 7*time.Second || sc.InstanceID != "sender-a" ||
		!reflect.DeepEqual(sc.RetrySchedule, cfg.Delivery.RetrySchedule) {
		t.Errorf("senderConfig = %+v; does not carry the config's values", sc)
	}
}

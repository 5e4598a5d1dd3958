package router

import "testing"

// Delivery batches are uncompressed unless a codec is configured: the sender, the
// broker and the router would otherwise each spend CPU on it by default.
func TestDeliveriesAreUncompressedUnlessConfigured(t *testing.T) {
	for _, c := range []struct {
		compression string
		want        uint8 // RecordAttrs.CompressionType: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
	}{{"", 0}, {CompressionLZ4, 3}, {CompressionZstd, 4}} {
		t.Run("compression="+c.compression, func(t *testing.T) {
			e := newEnv(t, 1, 1)
			rec, _ := eventRecord("claim.created", "acc_1", "clm_1", 1)
			e.produce(t, rec)
			cfg := e.config("g-compression")
			cfg.Compression = c.compression
			e.start(t, cfg, newMatcher(t, sub("sub_a", "acc_1", true, "", "*")), newParser(t, 0))
			out := e.reader(t, tDeliveries).n(t, 1)
			if got := out[0].Attrs.CompressionType(); got != c.want {
				t.Errorf("delivery batch compression type %d, want %d", got, c.want)
			}
		})
	}
}

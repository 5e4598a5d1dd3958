package router

import "github.com/twmb/franz-go/pkg/kgo"

// Codecs of Config.Compression (config router.compression).
const (
	CompressionNone   = "none"
	CompressionSnappy = "snappy"
	CompressionLZ4    = "lz4"
	CompressionZstd   = "zstd"
	CompressionGzip   = "gzip"
)

// compressions lists the accepted values, for error messages.
var compressions = []string{CompressionNone, CompressionSnappy, CompressionLZ4, CompressionZstd, CompressionGzip}

// compressionCodec maps a Config.Compression value to franz-go's codec.
//
// The default is none, not franz-go's snappy: compression is paid three times on the
// pipeline's CPU — the router compresses every batch, the broker decompresses it to
// validate it, the sender decompresses it again — to save bytes between router, broker
// and sender, which are usually in one network. On the router benchmark snappy was the
// largest single item of the router's own CPU after routing itself (docs/benchmarks.md,
// "where the time goes"). Set a codec when broker bandwidth or disk is the constraint
// (a remote broker, long retention of webhooks.deliveries): bodies are JSON and
// compress several-fold.
func compressionCodec(name string) (kgo.CompressionCodec, bool) {
	switch name {
	case CompressionNone:
		return kgo.NoCompression(), true
	case CompressionSnappy:
		return kgo.SnappyCompression(), true
	case CompressionLZ4:
		return kgo.Lz4Compression(), true
	case CompressionZstd:
		return kgo.ZstdCompression(), true
	case CompressionGzip:
		return kgo.GzipCompression(), true
	}
	return kgo.CompressionCodec{}, false
}

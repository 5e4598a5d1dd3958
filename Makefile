# eventrouter — see README.md. Every target needs only Go, except `integration`, `bench`,
# `chaos` and `services-*`, which start a real Apache Kafka broker (Java 17 + Maven) and
# Debian's redis-server through scripts/.

GO            ?= go
BIN           ?= bin/eventrouter
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS          := ./...
INTEGRATION_TIMEOUT ?= 30m
FUZZTIME      ?= 10s
BENCH_RUNS    ?= 3

.PHONY: all build test integration bench bench-smoke lint fmt dev fuzz chaos chaos-short chaos-cluster chaos-cluster-short chaos-cluster-run ci-extra redis-cluster-test clean

all: lint test build

## build: the one binary, bin/eventrouter
build:
	$(GO) build -o $(BIN) ./cmd/eventrouter

## test: hermetic unit and component tests (kfake, miniredis, httptest), with -race
test:
	$(GO) test -race -count=1 $(PKGS)

## integration: the integration tier against a real Kafka broker and redis-server (started if needed)
integration: services-up
	$(GO) test -tags integration -race -count=1 -p 1 -timeout $(INTEGRATION_TIMEOUT) $(PKGS)

## bench: hot-path Go benchmarks, the real-broker package benchmarks, then the end-to-end scenarios
bench: services-up build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)
	$(GO) test -tags integration -run '^$$' -bench . -benchmem -benchtime 1x -count=1 -p 1 -timeout 30m $(PKGS)
	@set -e; for s in throughput throughput-fanout5 latency hanging subs100k; do \
	  $(BIN) bench --scenario $$s --duration 10s --runs $(BENCH_RUNS) --json bin/bench-$$s.json; done
	$(BIN) bench --scenario restart --runs $(BENCH_RUNS) --json bin/bench-restart.json --plot bin/latency-restart.png

## bench-smoke: CI's short end-to-end run: exits 1 if anything is lost or a signature fails
bench-smoke: services-up build
	$(BIN) bench --scenario latency --rate 500 --duration 10s --drain 30s --runs 1 --warm-up 5s --json bin/bench-smoke.json
	$(GO) test -tags integration -run TestSmoke -count=1 -timeout 5m ./bench

## lint: gofmt check, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)
	$(GO) vet -tags chaos,cluster $(PKGS)
	$(GO) vet -tags rediscluster $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	$(GO) run $(STATICCHECK) -tags integration $(PKGS)
	$(GO) run $(STATICCHECK) -tags chaos,cluster $(PKGS)
	$(GO) run $(STATICCHECK) -tags rediscluster $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## dev: everything in one process on embedded Kafka and Redis (needs only Go)
# Job control (set -m) runs the program in its own process group holding the terminal,
# so Ctrl-C reaches it alone: it shuts down cleanly and `make dev` exits 0 instead of
# make itself dying of the SIGINT. The binary is built and run directly because `go run`
# exits 1 after a SIGINT even when the program exits 0. DEV_FLAGS passes flags, e.g.
# DEV_FLAGS=--interval=0.
dev: build
	@if [ -t 0 ]; then set -m; fi; $(BIN) dev $(DEV_FLAGS)

## fuzz: every fuzz target for FUZZTIME each. Go's fuzzer can end a run that found
## nothing with "context deadline exceeded" when -fuzztime runs out mid-input (no failing
## input is written then); such a run is repeated once, and any other failure fails.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    for try in 1 2; do \
	      if $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg >.fuzz.out 2>&1; then cat .fuzz.out; break; fi; \
	      cat .fuzz.out; \
	      if [ $$try = 1 ] && grep -q 'context deadline exceeded' .fuzz.out && ! grep -q 'Failing input written' .fuzz.out; then \
	        echo "fuzz $$f: ended on the fuzzer's own deadline with no failing input; running it again"; continue; fi; \
	      rm -f .fuzz.out; exit 1; \
	    done; \
	  done; \
	done; rm -f .fuzz.out

## chaos: the fault suite (docs/reliability.md): kill -9, broker and Redis restarts, endpoint 503/410, poison input
chaos: services-up
	$(GO) test -tags chaos -count=1 -p 1 -timeout 30m -v ./chaos

## chaos-short: CI's fault suite, every scenario shortened (about 4 minutes on 2 cores)
chaos-short: services-up
	CHAOS_SHORT=1 $(GO) test -tags chaos -count=1 -p 1 -timeout 12m -v ./chaos

## chaos-cluster: the multi-broker fault scenarios (leader kill -9, rolling restart) on the
## 3-broker cluster of `make cluster-up`, which it starts and always stops afterwards
chaos-cluster: services-up
	@$(MAKE) --no-print-directory chaos-cluster-run CHAOS_CLUSTER_ENV=

## chaos-cluster-short: the same, shortened for CI (CHAOS_SHORT=1)
chaos-cluster-short: services-up
	@$(MAKE) --no-print-directory chaos-cluster-run CHAOS_CLUSTER_ENV=CHAOS_SHORT=1

chaos-cluster-run:
	@set -e; trap 'scripts/kafka-cluster.sh down' EXIT; \
	scripts/kafka-cluster.sh up; \
	env $(CHAOS_CLUSTER_ENV) EVENTROUTER_TEST_KAFKA_CLUSTER=$$(scripts/kafka-cluster.sh seeds) \
	  $(GO) test -tags chaos,cluster -count=1 -p 1 -timeout 30m -v -run '^TestCluster' ./chaos

## redis-cluster-test: the Redis Cluster tier on a real 3-master cluster (started, then
## stopped): store conformance, index live refresh, attempt log, master failover under load;
## and a Sentinel failover (its servers started by the test)
redis-cluster-test: redis-cluster-up
	@rc=0; $(GO) test -tags rediscluster -race -count=1 -p 1 -timeout 6m -run RedisCluster \
	  ./app ./delivery ./subscriptions || rc=$$?; \
	$(MAKE) --no-print-directory redis-cluster-down; exit $$rc

## ci-extra: what CI runs after the integration tier: short benchmark, short fault suite
## (single broker, then the 3-broker cluster), the Redis Cluster tier, the Helm chart, fuzzing
ci-extra: bench-smoke chaos-short chaos-cluster-short redis-cluster-test
	$(MAKE) helm-check
	$(MAKE) fuzz FUZZTIME=8s

## helm-check: lint and render the Helm chart, and check every manifest it renders
# With Helm's Go packages, no helm binary or cluster: deploy/helm is its own Go module, so
# the main module does not depend on Helm or Kubernetes. It uses the main module's config
# package through a replace directive; -mod=mod lets a dependency the main module adds or
# bumps flow into it instead of failing on its go.mod.
.PHONY: helm-check
helm-check:
	cd deploy/helm && $(GO) vet -mod=mod ./... && $(GO) test -mod=mod -count=1 ./...

clean:
	rm -rf bin

-include Makefile.services

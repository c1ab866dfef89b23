# nows: the commands a developer needs. `make help` lists them.
GO      ?= go
BIN     := bin
ADDR    ?= 0.0.0.0:8765
FUZZTIME ?= 30s

.PHONY: help build test lint api demo echo bench bench-quick cluster cluster-sweep soak fuzz screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: ## build the nows CLI into ./bin/nows
	$(GO) build -o $(BIN)/nows ./cli/nows

lint: ## gofmt and go vet, main module and examples
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd examples/benchmark && $(GO) vet ./...

test: lint ## every test, with the race detector (the benchmark module's too)
	$(GO) test -race -count=1 -timeout 15m ./...
	cd examples/benchmark && $(GO) test -count=1 ./...

api: ## rewrite api/nows.txt from the exported API
	$(GO) test -count=1 -run '^TestAPISnapshot$$' ./internal/apisnap -update

# demo runs nows in the background and waits for it, so that the traps run
# on Ctrl-C (INT), on a TERM sent to make alone, and when the app exits:
# the temporary directory is always removed.
demo: build ## create a demo app with nows new in a temp dir and run it on $(ADDR) (make demo ADDR=127.0.0.1:9000); the dir is removed when it stops
	@nows='$(abspath $(BIN))/nows'; addr='$(ADDR)'; pid=; \
	tmp=$$(mktemp -d) || exit 1; \
	trap 'rm -rf "$$tmp"; echo "demo: removed $$tmp"' EXIT; \
	trap 'test -n "$$pid" && kill -INT $$pid 2>/dev/null; wait $$pid 2>/dev/null; exit 130' INT; \
	trap 'test -n "$$pid" && kill -TERM $$pid 2>/dev/null; wait $$pid 2>/dev/null; exit 143' TERM; \
	"$$nows" new "$$tmp/demo" || exit 1; \
	cd "$$tmp/demo" || exit 1; \
	host=$${addr%:*}; port=$${addr##*:}; \
	case $$host in ""|0.0.0.0|"[::]") host=127.0.0.1;; esac; \
	echo; echo "demo: binding $$addr: page at http://$$host:$$port/, WebSocket at ws://$$host:$$port/echo"; \
	echo "demo: Ctrl-C stops it and removes $$tmp"; echo; \
	"$$nows" run -- --addr "$$addr" & pid=$$!; \
	wait $$pid

echo: ## run examples/echo directly on $(ADDR)
	$(GO) run ./examples/echo --addr $(ADDR)

bench: ## the side-by-side benchmark against the peers, echo and fan-out, nows with its metrics on, and recovery after a restart (needs redis-server); 10 interleaved repetitions; rewrites docs/benchmarks.md and docs/zh/benchmarks.md (about 26 min); BENCH_FLAGS go to benchrun, e.g. BENCH_FLAGS=-reps=16 for narrower intervals (about 40 min)
	./examples/benchmark/run.sh $(BENCH_FLAGS)

bench-quick: ## a quick look at the same (1 repetition, smaller sizes, about 1 min) into $TMPDIR/nows-bench; docs/ left alone
	./examples/benchmark/run.sh -quick -out $${TMPDIR:-/tmp}/nows-bench

cluster: ## a cluster on this machine, over NATS then Redis (needs redis-server; about 9 min): 4 node processes, 16,000 members in one room, 5 broadcasts/s for 60 s; then 30 s with a node killed (SIGKILL) after 10 s; then 100,000 memberships on one node seen from another
	cd examples/benchmark && $(GO) run ./cmd/cluster -broker nats,redis -nodes 4 -members 16000 -rate 5 -duration 60s
	cd examples/benchmark && $(GO) run ./cmd/cluster -broker nats,redis -nodes 4 -members 16000 -rate 5 -duration 30s -kill
	NOWS_BIG_STATE=100000 $(GO) test -count=1 -run '^TestLargePresenceState$$' -v ./framework/

cluster-sweep: ## how cost grows: 1, 2, 4 node processes x rooms of 1,000, 4,000, 16,000 members over NATS, 5 broadcasts/s for 20 s each; prints the table, writes docs/scaling-cost.svg (about 4 min)
	cd examples/benchmark && $(GO) run ./cmd/cluster -sweep -broker nats -sweep-nodes 1,2,4 -sweep-members 1000,4000,16000 -rate 5 -duration 20s -out ../../docs

soak: ## the long soak (5 min) and the 10,000-connection storm, with -race
	NOWS_SOAK=1 $(GO) test -race -run 'TestSoak|TestStorm' -timeout 30m -v ./framework/

fuzz: ## run each fuzz target for $(FUZZTIME)
	@for target in $$($(GO) test -list '^Fuzz' ./framework/ | grep '^Fuzz'); do \
	  echo "== $$target"; $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./framework/ || exit 1; \
	done

screenshots: ## refresh docs/img/echo-page.png and docs/img/dashboard.png from a real browser (needs chromium)
	NOWS_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestEchoPage|TestDashboard' ./examples/e2e/

clean: ## remove build outputs
	rm -rf $(BIN)

# mqtap: build, test, benchmark and fuzz.
GO       ?= go
BIN      ?= ./mqtap
SHARED   ?= $(abspath ../shared)
FUZZTIME ?= 60s
export CGO_ENABLED ?= 0

.PHONY: build deps test check bench fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/mqtap

# deps installs the broker, clients, tshark and Python libraries the tests use.
deps:
	./scripts/install-deps.sh

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./...

# test installs what is missing, then runs every test: unit, fuzz seeds,
# integration against real captures, and the decoder against tshark
# (cmd/mqtap/tshark_test.go, the comparison of shared/tools/tshark-compare).
test: deps check build
	MQTAP_SHARED=$(SHARED) $(GO) test -count=1 -timeout 45m ./...

bench: build
	$(GO) test -run='^$$' -bench=. -benchmem ./decode ./session/... ./keys ./tui/...
	./scripts/bench.sh $(BIN)
	./scripts/bench-live.sh $(BIN)

# fuzz runs every fuzz target of the module, FUZZTIME each: the list is
# found in the test files, so a new fuzzer is fuzzed without editing this.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for fn in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | cut -c6-); do \
	    echo "fuzz $$pkg $$fn"; \
	    $(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s $$pkg; \
	  done; \
	done

clean:
	rm -f $(BIN)

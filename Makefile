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

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./decode
	$(GO) test -run='^$$' -fuzz='^FuzzParseHeader$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./decode
	$(GO) test -run='^$$' -fuzz='^FuzzPipeline$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./session
	$(GO) test -run='^$$' -fuzz='^FuzzLayers$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./session
	$(GO) test -run='^$$' -fuzz='^FuzzWebSocket$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./session
	$(GO) test -run='^$$' -fuzz='^FuzzCompileFilter$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./session/source/live
	$(GO) test -run='^$$' -fuzz='^FuzzTLS$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./session
	$(GO) test -run='^$$' -fuzz='^FuzzNextRecord$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./decode/tlswire
	$(GO) test -run='^$$' -fuzz='^FuzzHandshake$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./decode/tlswire
	$(GO) test -run='^$$' -fuzz='^FuzzDecrypt$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./keys/tlskeys
	$(GO) test -run='^$$' -fuzz='^FuzzWSFrame$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./decode
	$(GO) test -run='^$$' -fuzz='^FuzzHTTPHead$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./decode
	$(GO) test -run='^$$' -fuzz='^FuzzInflate$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./decode
	$(GO) test -run='^$$' -fuzz='^FuzzReader$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./pcaps
	$(GO) test -run='^$$' -fuzz='^FuzzDefrag$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s ./session

clean:
	rm -f $(BIN)

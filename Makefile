# edgegate Makefile. `make run` starts a single dev edge; `make test` runs the
# whole suite (installs what it needs: protoc from Debian, Go tools via go.mod).
SHELL := /bin/bash
GO ?= go
BIN := bin
PKGS := ./...
# make test fuzzes by execution count, not wall time: a duration -fuzztime
# races the fuzz coordinator's deadline on loaded machines and fails with a
# bare "context deadline exceeded" (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 15000x
FUZZTIME_LONG ?= 2m
TEST_TIMEOUT ?= 12m
# Fuzz targets as package:Func pairs; each runs for FUZZTIME in `make test`.
FUZZ_TARGETS = $(shell for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do echo "./$$(dirname $${f#./}):$$fn"; done; done)

.PHONY: all build run cluster test race unit fuzz fuzz-short jepsen bench bench-lossy lint vet staticcheck fmt-check tidy tidy-check generate check-generated deps clean edge edgebench screenshots

all: build

build: edge edgebench

edge:
	$(GO) build -o $(BIN)/edge ./cmd/edge

edgebench:
	$(GO) build -o $(BIN)/edgebench ./cmd/edgebench

## run: start a single-node edge on embedded defaults with the demo page.
## Ordered chat goes through the same Raft groups as a region's (one
## replica each, Raft on loopback RUN_RAFT_ADDR), so the demo exercises the
## production path.
RUN_RAFT_ADDR ?= 127.0.0.1:7070
run: edge
	$(BIN)/edge --dev --raft-listen $(RUN_RAFT_ADDR)

## cluster: three dev edges on loopback forming one region: Raft groups
## replicated over the three (ports 7070-7072, authenticated), a gossip
## cluster (7946-7948, encrypted), the inter-node link for rooms
## (7600-7602), WebSocket on 8080-8082; shared secrets under CLUSTER_DIR
## (the resume secret too, so a client redirected by a draining node
## resumes on its peer). Ctrl-C stops all three.
CLUSTER_DIR ?= data/cluster
cluster: edge
	@mkdir -p $(CLUSTER_DIR)
	@for f in hmac raft gossip resume; do [ -s $(CLUSTER_DIR)/$$f.key ] || openssl rand -hex 32 > $(CLUSTER_DIR)/$$f.key; done
	@[ -s $(CLUSTER_DIR)/api.key ] || echo "dev-$$(openssl rand -hex 12)" > $(CLUSTER_DIR)/api.key
	@peers=n0@127.0.0.1:7070,n1@127.0.0.1:7071,n2@127.0.0.1:7072; pids=; \
	trap 'kill $$pids 2>/dev/null; wait' INT TERM EXIT; \
	for i in 0 1 2; do \
	  join=; [ $$i -gt 0 ] && join="--join 127.0.0.1:7946"; \
	  $(BIN)/edge --dev --node-id n$$i --listen 127.0.0.1:808$$i --data $(CLUSTER_DIR)/n$$i \
	    --auth-hmac-secret "$$(cat $(CLUSTER_DIR)/hmac.key)" --api-key "$$(cat $(CLUSTER_DIR)/api.key)" \
	    --resume-secret "$$(cat $(CLUSTER_DIR)/resume.key)" \
	    --raft-listen 127.0.0.1:707$$i --peers $$peers --raft-secret-file $(CLUSTER_DIR)/raft.key \
	    --gossip-listen 127.0.0.1:794$$((6+i)) $$join --gossip-key-file $(CLUSTER_DIR)/gossip.key --region local \
	    --node-listen 127.0.0.1:760$$i \
	    2> $(CLUSTER_DIR)/n$$i.log & pids="$$pids $$!"; sleep 1; \
	done; \
	echo "edgegate cluster of 3 is up: http://127.0.0.1:8080/ http://127.0.0.1:8081/ http://127.0.0.1:8082/"; \
	echo "  route:    curl http://127.0.0.1:8080/v1/route?region=local"; \
	echo "  members:  curl -H \"X-API-Key: $$(cat $(CLUSTER_DIR)/api.key)\" http://127.0.0.1:8080/v1/cluster/members"; \
	echo "  edgebench --secret $$(cat $(CLUSTER_DIR)/hmac.key) --addrs 127.0.0.1:8080,127.0.0.1:8081,127.0.0.1:8082"; \
	echo "  logs: $(CLUSTER_DIR)/n*.log; Ctrl-C stops the cluster"; \
	wait

## deps: tools the build and tests need that Go does not fetch itself
## (protoc; Chromium for edge/itest's browser test, screenshots in artifacts/).
deps:
	@command -v protoc >/dev/null 2>&1 || { \
	  echo "installing protobuf-compiler (Debian)"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null; }
	@test -x /usr/bin/chromium || { \
	  echo "installing chromium (Debian) for the browser end-to-end test"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## generate: regenerate the Protobuf code and the web UI's schema.js
## derived from it (both committed).
generate: deps
	$(GO) build -o $(BIN)/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	protoc --plugin=protoc-gen-go=$(BIN)/protoc-gen-go --go_out=. --go_opt=paths=source_relative transport/pb/edgegate.proto transport/pb/nodelink.proto
	$(GO) test ./edge/webui -run TestSchemaUpToDate -update >/dev/null

## check-generated: fail when the committed generated code is stale.
check-generated: generate
	@git diff --exit-code -- transport/pb/ edge/webui/static/schema.js || { echo "generated code is stale: run make generate and commit"; exit 1; }

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

lint: fmt-check vet staticcheck

tidy:
	$(GO) mod tidy

tidy-check:
	@cp go.mod /tmp/edgegate.go.mod.bak; cp go.sum /tmp/edgegate.go.sum.bak; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then git diff -- go.mod go.sum; \
	  cp /tmp/edgegate.go.mod.bak go.mod; cp /tmp/edgegate.go.sum.bak go.sum; \
	  echo "go.mod/go.sum are not tidy: run make tidy"; exit 1; fi

## race: all tests with the race detector (this is what `make test` runs).
race: build
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## unit: fast run without -race.
unit:
	$(GO) test -count=1 $(PKGS)

## fuzz-short: every fuzz target for FUZZTIME (part of make test).
fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done

## fuzz: every fuzz target for FUZZTIME_LONG, and the browser SDK's
## decoder (a Node mutation fuzzer, edge/webui/fuzz_node_test.go) for 5M inputs.
fuzz:
	$(MAKE) fuzz-short FUZZTIME=$(FUZZTIME_LONG)
	EDGEGATE_JS_FUZZ_RUNS=5000000 $(GO) test -count=1 -run '^TestJSDecoderFuzz$$' -timeout 30m ./edge/webui

## test: the whole suite, as CI runs it.
test: deps check-generated tidy-check lint race fuzz-short
	@echo "make test: all checks passed"

## screenshots: the browser end-to-end test alone; it saves PNGs of the demo
## and status pages under artifacts/screenshots/ (git-ignored; make clean removes them).
screenshots: deps
	$(GO) test -race -count=1 -run '^TestBrowser' -v ./edge/itest

## jepsen: the Raft fault test (three edge processes, kill -9, restart,
## a partition, SIGSTOP; checker incl. porcupine, replicas' state hashes,
## leaderless spans) for JEPSEN_DURATION (make test runs 20 s).
JEPSEN_DURATION ?= 60s
jepsen:
	JEPSEN_DURATION=$(JEPSEN_DURATION) $(GO) test -race -count=1 -timeout 20m -run '^TestRaftJepsen$$' -v ./edge/itest

## bench: Go benchmarks (medians: run with COUNT=5 and compare with benchstat).
COUNT ?= 3
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) $(PKGS)

## bench-lossy: the weak-network matrix (root): RTT 50 and 200 ms; a clean link; random
## loss 1, 5, 10 %; bursty loss 5 % (mean burst 3); chat at 10 msg/s per
## side, bodies uniform in 100-1000 bytes, LOSSY_DURATION each,
## LOSSY_RUNS runs per cell; results in bench/results/lossy.json and the
## table (medians) in bench/results/lossy.md, latency plots in
## bench/results/lossy-rtt*.png.
LOSSY_RUNS ?= 3
LOSSY_DURATION ?= 30s
LOSSY_TRANSPORTS ?= ws quic-stream quic-fec auto
LOSSY_RTTS ?= 50 200
LOSSY_CELLS ?= 0:0 1:0 5:0 10:0 5:3
bench-lossy: build
	@mkdir -p bench/results
	@: > bench/results/lossy.json
	@set -e; for rtt in $(LOSSY_RTTS); do for cell in $(LOSSY_CELLS); do \
	  loss=$${cell%%:*}; burst=$${cell##*:}; \
	  for tr in $(LOSSY_TRANSPORTS); do for run in $$(seq $(LOSSY_RUNS)); do \
	    echo "lossy rtt=$$rtt loss=$$loss burst=$$burst $$tr run $$run" >&2; \
	    $(BIN)/edgebench lossy --edge-bin $(BIN)/edge --transport $$tr --loss $$loss --burst $$burst \
	      --rtt $$rtt --pairs 5 --rate 10 --size 100-1000 --duration $(LOSSY_DURATION) --json >> bench/results/lossy.json \
	      || echo "lossy rtt=$$rtt loss=$$loss burst=$$burst $$tr run $$run FAILED (left out of the table)" >&2; \
	  done; done; done; done
	$(BIN)/edgebench lossy-table bench/results/lossy.json bench/results | tee bench/results/lossy.md

clean:
	rm -rf $(BIN) artifacts

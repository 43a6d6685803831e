# weft — build, demo, test, bench. `make help` lists the targets.
export PATH := /usr/local/go/bin:$(PATH)
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# go test over every package: -race, and a timeout that fails a hung test
# well inside CI's budget (the whole `make test` stays under 20 minutes on
# 2 cores).
TEST_PKGS    ?= ./...
TEST_TIMEOUT ?= 15m
TEST_FLAGS   ?= -race -timeout $(TEST_TIMEOUT)
# QEMU guest tests (owner: engineer "guest"): ci/guest/run-tests.sh caches
# the pinned guest kernel (ci/guest/prepare.sh) and runs every test that
# boots a guest (TestGuest*). test-go skips those so each boots once.
GUEST_SKIP ?= ^TestGuest

PREFIX  ?= /usr
DESTDIR ?=

.PHONY: all build demo test test-go test-guest vet bench install uninstall clean help deps deps-test

all: build

help:
	@echo "make build       bin/weftd bin/weft bin/mount.weft"
	@echo "make demo        five file-backed drives, weftd, a 3+2 fs, a fio write/verify/read through the mount"
	@echo "make test        go vet, go test -race (every package, e2e with the real binaries), QEMU guest tests"
	@echo "make test-guest  only the QEMU guest tests"
	@echo "make bench       weft mount vs the raw directory vs a go-fuse loopback mount"
	@echo "make install     weftd, weft, /sbin/mount.weft, service.conf, systemd unit"

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/weftd ./cmd/weftd
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/weft ./cmd/weft
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/mount.weft ./cmd/mount.weft

deps:
	@ci/deps.sh demo

deps-test:
	@ci/deps.sh test

demo: deps build
	ci/demo.sh

vet:
	$(GO) vet $(TEST_PKGS)

test: deps-test vet test-go test-guest

test-go:
	$(GO) test $(TEST_FLAGS) -skip '$(GUEST_SKIP)' $(TEST_PKGS)

test-guest: deps-test
	sh ci/guest/run-tests.sh

bench: deps build
	$(GO) run ./bench/mount

install: build
	install -D -m 0755 $(BIN)/weftd $(DESTDIR)$(PREFIX)/sbin/weftd
	install -D -m 0755 $(BIN)/weft $(DESTDIR)$(PREFIX)/bin/weft
	install -D -m 0755 $(BIN)/mount.weft $(DESTDIR)/sbin/mount.weft
	install -D -m 0644 deploy/systemd/weft-agent.service $(DESTDIR)/etc/systemd/system/weft-agent.service
	@if [ ! -e $(DESTDIR)/etc/weft/service.conf ]; then \
		install -D -m 0644 deploy/service.conf $(DESTDIR)/etc/weft/service.conf; \
	else echo "kept existing $(DESTDIR)/etc/weft/service.conf"; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/weftd $(DESTDIR)$(PREFIX)/bin/weft $(DESTDIR)/sbin/mount.weft \
		$(DESTDIR)/etc/systemd/system/weft-agent.service

clean:
	rm -rf $(BIN)

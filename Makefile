# Build and benchmark targets. Tests: scripts/test.sh (go test -race ./...).

GO ?= go
# Flags of the harness, e.g. make bench BENCHFLAGS='-n 1,10 -m 10 -runs 3'
# (bench/README.md lists them all).
BENCHFLAGS ?=

# Where build and deb write (bin/ is not committed).
BINDIR ?= bin
# tend version prints both; a tag-less checkout is "dev".
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo dev)
LDFLAGS ?= -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
# A Debian version starts with a digit: v1.2.3 -> 1.2.3 (v1.2.3-4-gabc ->
# 1.2.3+4+gabc, after 1.2.3), a tag-less checkout -> 0.0.0~git<revision>.
TAG_VERSION := $(shell echo '$(VERSION)' | sed -n 's/^v\([0-9]\)/\1/p' | tr - +)
DEB_VERSION ?= $(or $(TAG_VERSION),0.0.0~git$(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown))
DEB_ARCH ?= $(shell $(GO) env GOARCH)
DEB_MAINTAINER ?= tend maintainers <tend@localhost>
DEB ?= $(BINDIR)/tend_$(DEB_VERSION)_$(DEB_ARCH).deb
# nfpm, the package builder, run from the Go module proxy at a fixed version.
NFPM ?= github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

.PHONY: build bench bench-engine deb

# build: the tend binary, static (no cgo), without local paths, with the
# version and Git revision embedded (tend version).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINDIR)/tend ./cmd/tend

# deb: the Debian package (binary, systemd unit, /etc/tend/agent.hcl,
# completions; packaging/nfpm.yaml) at $(DEB). The files are staged in one
# directory, where nfpm runs.
deb: build
	rm -rf $(BINDIR)/deb-stage
	mkdir -p $(BINDIR)/deb-stage/completion
	cp $(BINDIR)/tend deploy/systemd/tend-agent.service deploy/systemd/agent.hcl packaging/*.sh $(BINDIR)/deb-stage/
	$(BINDIR)/tend completion bash > $(BINDIR)/deb-stage/completion/tend.bash
	$(BINDIR)/tend completion zsh > $(BINDIR)/deb-stage/completion/_tend
	$(BINDIR)/tend completion fish > $(BINDIR)/deb-stage/completion/tend.fish
	cd $(BINDIR)/deb-stage && DEB_VERSION='$(DEB_VERSION)' DEB_ARCH='$(DEB_ARCH)' DEB_MAINTAINER='$(DEB_MAINTAINER)' \
		$(GO) run $(NFPM) package --config $(CURDIR)/packaging/nfpm.yaml --packager deb --target $(abspath $(DEB))
	rm -rf $(BINDIR)/deb-stage
	@echo "built $(DEB)"

# bench: tend against Ansible on sshd test hosts (needs root; installs
# ansible-core when missing). Results in bench/results/.
bench: build
	$(GO) build -o bin/tendbench ./bench
	bin/tendbench -tend bin/tend -out bench/results $(BENCHFLAGS)

# bench-engine: the engine's scale benchmarks (5,000 hosts x 100 resources,
# recorded probe replies, no network).
bench-engine:
	$(GO) test -run '^$$' -bench Scale -benchmem -timeout 60m ./engine/

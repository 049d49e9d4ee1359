# brokkr — make help lists the targets.
SHELL := /bin/bash
MODULE := github.com/brokkr/brokkr
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X $(MODULE)/internal/buildinfo.Version=$(VERSION) -X $(MODULE)/internal/buildinfo.Commit=$(COMMIT) -X $(MODULE)/internal/buildinfo.Date=$(DATE)
GO ?= go
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/golangci-lint)
GOLANGCI_LINT_VERSION ?= v2.15.0
TEST_FLAGS ?= -race -count=1 -timeout 20m
LISTEN ?= 0.0.0.0:3000
# The living test cluster for the agent integration tests (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok), built from hack/k8s-tools and cached
# under a key derived from the content of its two modules and its build script.
K8S_TOOLS := $(CURDIR)/hack/k8s-tools
K8S_KEY := $(shell cat $(K8S_TOOLS)/go.mod $(K8S_TOOLS)/go.sum $(K8S_TOOLS)/kwok/go.mod $(K8S_TOOLS)/kwok/go.sum $(K8S_TOOLS)/build.sh | sha256sum | cut -c1-16)
K8S_ASSETS ?= $(HOME)/.cache/brokkr/k8s-assets/$(K8S_KEY)
# The agent's integration tests find the binaries through KUBEBUILDER_ASSETS; `make test`
# builds them first when they are missing (once, then cached). Elsewhere they are used when
# they have been built; a `go test` run without them skips those tests (and fails under CI=true).
KUBEBUILDER_ASSETS ?= $(if $(wildcard $(K8S_ASSETS)/VERSIONS),$(K8S_ASSETS))
export KUBEBUILDER_ASSETS

# helm for `make helm-check`, built from hack/helm and cached the same way; the chart
# tests in agent/deploytest find it there too.
HELM_TOOLS := $(CURDIR)/hack/helm
HELM_KEY := $(shell cat $(HELM_TOOLS)/go.mod $(HELM_TOOLS)/go.sum $(HELM_TOOLS)/build.sh | sha256sum | cut -c1-16)
HELM_DIR ?= $(HOME)/.cache/brokkr/tools/helm-$(HELM_KEY)
CHARTS := deploy/charts/brokkr-broker deploy/charts/brokkr-agent

# The release pipeline (goreleaser.yaml), run from the Go module proxy at this version.
GORELEASER_VERSION ?= v2.15.1
GORELEASER ?= $(GO) run github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
# make install: GNU-style directories, staged under DESTDIR when set.
prefix ?= /usr/local
bindir ?= $(prefix)/bin
datarootdir ?= $(prefix)/share
mandir ?= $(datarootdir)/man
INSTALL ?= install

.PHONY: help build run demo test test-short fuzz bench bench-agent bench-fleet lint fmt vet tidy migrate-up migrate-down clean completions manpages docs test-assets print-test-assets release-check snapshot install helm-check test-monitoring dashboards-images

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the binaries into bin/
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

run: build ## Run a broker with the embedded default database (prints its address and admin PAK)
	./bin/brokkr-broker serve --listen $(LISTEN)

demo: build $(K8S_ASSETS)/VERSIONS ## A demo fleet: a broker, three living clusters with an agent each (env=dev, staging, prod), example stacks; Ctrl-C stops it
	$(GO) build -o bin/brokkr-demo ./agent/internal/demo
	KUBEBUILDER_ASSETS=$(or $(KUBEBUILDER_ASSETS),$(K8S_ASSETS)) bin/brokkr-demo -bin bin -listen $(or $(DEMO_LISTEN),127.0.0.1:3030)

test: $(K8S_ASSETS)/VERSIONS ## Run every test with the race detector (starts its own PostgreSQL; builds the living test cluster once when missing)
	KUBEBUILDER_ASSETS=$(or $(KUBEBUILDER_ASSETS),$(K8S_ASSETS)) $(GO) test $(TEST_FLAGS) ./...
	$(MAKE) test-monitoring

test-monitoring: ## Check the dashboards and alert rules of deploy/monitoring (separate module hack/monitoring)
	cd hack/monitoring && GOWORK=off GOFLAGS=-mod=mod $(GO) test -count=1 -timeout 10m ./...

dashboards-images: ## Redraw docs/images/dashboard-*.svg from a four-minute run of a real broker
	cd hack/monitoring && GOWORK=off GOFLAGS=-mod=mod $(GO) test -count=1 -timeout 20m -run TestDashboardImages . -args -images

fuzz: ## Run every fuzz target for FUZZTIME each (10s); crashes land in testdata/fuzz as regression tests
	FUZZTIME=$(or $(FUZZTIME),10s) GO=$(GO) bash hack/fuzz/run.sh

test-short: $(K8S_ASSETS)/VERSIONS ## Run the tests without the race detector
	KUBEBUILDER_ASSETS=$(or $(KUBEBUILDER_ASSETS),$(K8S_ASSETS)) $(GO) test -count=1 ./...

test-assets: $(K8S_ASSETS)/VERSIONS ## Build or reuse the cached living test cluster (apiserver, etcd, controller-manager, scheduler, kwok)

print-test-assets: ## Print the test-assets directory, for KUBEBUILDER_ASSETS
	@echo $(K8S_ASSETS)

# Build into a temporary directory and move it into place only when complete,
# so an interrupted build never leaves a half-filled cache entry behind.
$(K8S_ASSETS)/VERSIONS:
	rm -rf $(K8S_ASSETS).tmp
	OUT=$(K8S_ASSETS).tmp GO=$(GO) bash $(K8S_TOOLS)/build.sh
	rm -rf $(K8S_ASSETS)
	mv $(K8S_ASSETS).tmp $(K8S_ASSETS)

helm-check: $(HELM_DIR)/helm ## Lint and render the Helm charts with each of their ci/*-values.yaml
	@set -e; for chart in $(CHARTS); do \
		for values in $$chart/ci/*-values.yaml; do \
			echo "helm lint + template: $$chart -f $$values"; \
			$(HELM_DIR)/helm lint --strict --quiet $$chart -f $$values; \
			$(HELM_DIR)/helm template brokkr $$chart --namespace brokkr -f $$values >/dev/null; \
		done; \
	done

$(HELM_DIR)/helm:
	rm -rf $(HELM_DIR).tmp
	OUT=$(HELM_DIR).tmp GO=$(GO) bash $(HELM_TOOLS)/build.sh
	rm -rf $(HELM_DIR)
	mv $(HELM_DIR).tmp $(HELM_DIR)

bench: ## Run the benchmarks (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem ./internal/pak/ ./server/

bench-agent: test-assets ## Agent (validation on and off) vs kubectl apply of 1,000 objects on the living test cluster (needs kubectl)
	$(GO) test -run '^$$' -bench Apply1000 -benchtime 3x ./agent/

bench-fleet: ## Simulated fleet against a broker (BROKER_URL+ADMIN_PAK, else one started here; FLEET_ARGS, see docs/benchmarks.md)
	GO=$(GO) bash hack/fleetsim/bench.sh

lint: ## Run gofmt, go vet and golangci-lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	@test -x "$(GOLANGCI_LINT)" || $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	$(GOLANGCI_LINT) run ./...

fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet
	$(GO) vet ./...

tidy: ## go mod tidy
	$(GO) mod tidy

migrate-up: build ## Apply database migrations (database from the configuration)
	./bin/brokkr-broker migrate up

migrate-down: build ## Revert the last migration
	./bin/brokkr-broker migrate down 1

completions: ## Write the brokkrctl shell completion scripts into completions/
	@mkdir -p completions
	$(GO) run ./cmd/brokkrctl completion bash > completions/brokkrctl.bash
	$(GO) run ./cmd/brokkrctl completion zsh > completions/brokkrctl.zsh
	$(GO) run ./cmd/brokkrctl completion fish > completions/brokkrctl.fish
	$(GO) run ./cmd/brokkrctl completion powershell > completions/brokkrctl.ps1

manpages: ## Write the brokkrctl man pages into manpages/
	$(GO) run ./hack/gendocs man manpages

docs: ## Regenerate docs/cli.md from the brokkrctl command tree
	$(GO) run ./hack/gendocs markdown > docs/cli.md

release-check: ## Validate goreleaser.yaml with goreleaser check
	$(GORELEASER) check --config goreleaser.yaml

snapshot: ## Build a local release into dist/: archives, checksums, deb, rpm, cask (nothing published)
	$(GORELEASER) release --config goreleaser.yaml --snapshot --clean --skip=publish,docker

install: build completions manpages ## Install the binaries, completions and man pages into DESTDIR + prefix (/usr/local)
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man1 \
		$(DESTDIR)$(datarootdir)/bash-completion/completions \
		$(DESTDIR)$(datarootdir)/zsh/site-functions \
		$(DESTDIR)$(datarootdir)/fish/vendor_completions.d
	$(INSTALL) -m 0755 bin/brokkrctl bin/brokkr-broker bin/brokkr-agent $(DESTDIR)$(bindir)/
	$(INSTALL) -m 0644 completions/brokkrctl.bash $(DESTDIR)$(datarootdir)/bash-completion/completions/brokkrctl
	$(INSTALL) -m 0644 completions/brokkrctl.zsh $(DESTDIR)$(datarootdir)/zsh/site-functions/_brokkrctl
	$(INSTALL) -m 0644 completions/brokkrctl.fish $(DESTDIR)$(datarootdir)/fish/vendor_completions.d/brokkrctl.fish
	$(INSTALL) -m 0644 manpages/*.1 $(DESTDIR)$(mandir)/man1/

clean: ## Remove build output
	rm -rf bin/ dist/ coverage/ manpages/

# The two commands of the README: "make demo" grades the sample submissions,
# "make test" runs the tests. Both set up what they need first.

GO ?= go
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
SUBMISSIONS := $(sort $(wildcard submissions/*/))

.PHONY: setup demo test vet

setup:
	./scripts/setup.sh

demo: setup
	$(GO) run ./grader grade --regrade --rubric rubrics/milestone1.yaml $(SUBMISSIONS)

# The tests also grade a class on a real single-node Slurm cluster.
test: setup
	$(SUDO) ./scripts/slurm-cluster.sh install
	$(GO) vet ./...
	$(GO) test -timeout 40m ./...

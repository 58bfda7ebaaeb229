# The two commands of the README: "make demo" grades the sample submissions,
# "make test" runs the tests. Both set up what they need first.

GO ?= go
SUBMISSIONS := $(sort $(wildcard submissions/*/))

.PHONY: setup demo test vet

setup:
	./scripts/setup.sh

demo: setup
	$(GO) run ./grader grade --regrade --rubric rubrics/milestone1.yaml $(SUBMISSIONS)

test: setup
	$(GO) vet ./...
	$(GO) test -timeout 40m ./...

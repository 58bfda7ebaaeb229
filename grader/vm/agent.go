package vm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// agentPackage is the guest agent's main package.
const agentPackage = "./grader/guest/agent"

// BuildAgent compiles the guest agent as a static executable into dir and
// returns its path. It needs the Go toolchain and this project's source,
// which are there when the grader itself runs with "go run" or "go test".
//
// TODO: a grader installed as a lone binary has no source to build the agent
// from; it should carry a prebuilt agent (go:embed at release time) instead.
func BuildAgent(dir string) (string, error) {
	root, err := sourceRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "agent")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, agentPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("failed to build the guest agent: %v: %s", err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// sourceRoot finds the folder holding this project's go.mod, from where this
// file was compiled.
func sourceRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if ok && filepath.IsAbs(file) {
		dir := filepath.Dir(file)
		for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d, nil
			}
		}
	}
	return "", errors.New("failed to find the grader's source to build the guest agent " +
		"(run the grader with go run from its checkout)")
}

// Command grader grades Linux kernel-module assignments: it builds each
// submission next to a reference module, runs a rubric's checks in
// disposable QEMU guests, and prints a scored table.
//
//	grader grade [flags] SUBMISSION...
//	grader doctor [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"kmodgrade/grader/guest"
)

const usage = `usage:
  grader grade [flags] SUBMISSION...   grade submission folders or Moodle zips; print a table
  grader report [flags]                print the table of saved results again, and export them
  grader slurm [flags] SUBMISSION...   grade a class as a Slurm array job, one shard per task
  grader check [flags] [DIR]           a student's self-check of the module in DIR
  grader rubric --record [-o FILE]     record the reference's observations for grader check
  grader doctor [flags]                say what grading needs and what is missing
  grader bench [-n N]                  measure grading speed, fast path against cold boots

Run "grader COMMAND -h" for the flags of a command.
`

// errUsage marks an error in how the command was called: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "grade":
		err = gradeCmd(ctx, args[1:], stdout, stderr)
	case "report":
		err = reportCmd(ctx, args[1:], stdout, stderr)
	case "check":
		err = checkCmd(ctx, args[1:], stdout, stderr)
	case "rubric":
		err = rubricCmd(ctx, args[1:], stdout, stderr)
	case "slurm":
		err = slurmCmd(ctx, args[1:], stdout, stderr)
	case "doctor":
		err = doctorCmd(ctx, args[1:], stdout, stderr)
	case "bench":
		err = benchCmd(ctx, args[1:], stdout, stderr)
	case "host-agent":
		// Not for people: grader check --host starts it (see guest.Local).
		err = guest.Local()
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "grader: unknown command %q\n%s", args[0], usage)
		return 2
	}
	var status *exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		if status.err != nil {
			fmt.Fprintf(stderr, "grader: error: %v\n", status.err)
		}
		return status.code
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "grader: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "grader: error: %v\n", err)
	return 1
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// logger prefixes progress lines on stderr with the command's name.
type logger struct {
	w       io.Writer
	verbose bool
}

func (l *logger) printf(format string, args ...any) {
	fmt.Fprintf(l.w, "grader: "+format+"\n", args...)
}

func (l *logger) warnf(format string, args ...any) {
	fmt.Fprintf(l.w, "grader: warning: "+format+"\n", args...)
}

// verbosef logs only under -v.
func (l *logger) verbosef(format string, args ...any) {
	if l.verbose {
		fmt.Fprintf(l.w, "grader: "+strings.TrimRight(format, "\n")+"\n", args...)
	}
}

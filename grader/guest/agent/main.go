//go:build linux

// Command agent is the grading guest's /init. The host builds it as a static
// executable and puts it in the guest's initramfs; it is of no use elsewhere.
package main

import (
	"fmt"
	"os"

	"kmodgrade/grader/guest"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "agent: this is the grading guest's /init; the host starts it in a VM")
		os.Exit(2)
	}
	guest.Main()
}

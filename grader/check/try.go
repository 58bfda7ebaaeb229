package check

import "fmt"

// The commands below are what a student types in their own VM, with their
// module built, to see for themselves what a failed check saw.

func (c *LoadMessage) Try() string {
	return "sudo insmod ./<module>.ko && sudo dmesg | tail -n 5"
}

func (c *ExitMessage) Try() string {
	return "sudo rmmod <module> && sudo dmesg | tail -n 5"
}

func (c *Memory) Try() string {
	return "cd /sys/kernel/tracing && echo 1 | sudo tee events/kmem/kmalloc/enable events/kmem/kfree/enable; " +
		"load, use and unload the module; then sudo grep -E 'kmalloc|kfree' trace " +
		"(every kmalloc from your module needs a kfree of the same ptr)"
}

func (c *ProcEntry) Try() string {
	return fmt.Sprintf("ls -ld %s %s   (with the module loaded, then again after rmmod)", c.Dir, c.File)
}

func (c *WriteInBounds) Try() string {
	return fmt.Sprintf(`echo "3 42" | sudo tee %s; cat %s`, c.Path, c.Path)
}

func (c *WriteOutOfBounds) Try() string {
	return fmt.Sprintf(`echo "%d 999331" | sudo tee %s; echo "exit status $?"   (it should say `+
		`"Invalid argument" and 1)`, c.indices()[0], c.Path)
}

func (c *ReadEntries) Try() string {
	return fmt.Sprintf("dd if=%s bs=%d count=%d of=/dev/null   (\"0+%d records in\": one read per entry, "+
		"then 0)", c.Path, c.buffer(), c.Length+2, c.Length)
}

func (c *Shell) Try() string { return c.Command }

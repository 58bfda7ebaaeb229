package vm

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// console stamps each line the way the kernel does, "[    2.842714] ",
// with a time that grows by a millisecond a line.
func console(lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "[%5d.%06d] %s\r\n", 2, 842714+1000*i, l)
	}
	return b.String()
}

var boot = []string{
	"Linux version 6.6.0 (build@host) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC",
	"Command line: console=ttyS0 panic=-1 oops=panic",
	"x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'",
	"Freeing unused kernel image (initmem) memory: 2700K",
	"Run /init as init process",
	"project: loading out-of-tree module taints kernel.",
	"[csse332]: Module csse332 initializing...",
}

var pageFault = []string{
	"BUG: unable to handle page fault for address: ffffc90000400000",
	"#PF: supervisor write access in kernel mode",
	"#PF: error_code(0x0002) - not-present page",
	"PGD 100000067 P4D 100000067 PUD 1001e3067 PMD 0",
	"Oops: 0002 [#1] PREEMPT SMP NOPTI",
	"CPU: 0 PID: 93 Comm: agent Tainted: G           O       6.6.0 #1",
	"Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2 04/01/2014",
	"RIP: 0010:memcpy_erms+0x6/0x10",
	"Code: cc cc cc cc eb 1e 0f 1f 00 48 89 f8 48 89 d1 <f3> a4 c3 cc cc cc cc 0f 1f 00",
	"RSP: 0018:ffffc900001e7e08 EFLAGS: 00010246",
	"RAX: ffffc90000400000 RBX: 00000000000003e8 RCX: 00000000000003e8",
	"Call Trace:",
	" <TASK>",
	" ? __die+0x1f/0x60",
	" ? page_fault_oops+0x17b/0x470",
	" ? exc_page_fault+0x6d/0x150",
	" ? asm_exc_page_fault+0x26/0x30",
	" ? memcpy_erms+0x6/0x10",
	" csse332_read+0xb1/0xc9 [project]",
	" proc_reg_read+0x55/0xa0",
	" vfs_read+0xb1/0x300",
	" ksys_read+0x6c/0xf0",
	" do_syscall_64+0x3f/0x90",
	" entry_SYSCALL_64_after_hwframe+0x6e/0xd8",
	" </TASK>",
	"Modules linked in: project(O)",
	"CR2: ffffc90000400000",
	"---[ end trace 0000000000000000 ]---",
	"RIP: 0010:memcpy_erms+0x6/0x10",
}

var panicAfter = []string{
	"Kernel panic - not syncing: Fatal exception",
	"Kernel Offset: disabled",
	"---[ end Kernel panic - not syncing: Fatal exception ]---",
}

var warning = []string{
	"------------[ cut here ]------------",
	"WARNING: CPU: 0 PID: 1 at lib/list_debug.c:59 __list_del_entry_valid+0x8e/0xc0",
	"Modules linked in: project(O)",
	"CPU: 0 PID: 1 Comm: insmod Tainted: G           O       6.6.0 #1",
	"RIP: 0010:csse332_init+0x1d/0x30 [project]",
	"Call Trace:",
	" <TASK>",
	" ? __warn+0x81/0x130",
	" do_one_initcall+0x41/0x200",
	" do_init_module+0x60/0x230",
	" </TASK>",
	"---[ end trace 0000000000000000 ]---",
}

var softLockup = []string{
	"watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [agent:93]",
	"Modules linked in: project(O)",
	"CPU: 0 PID: 93 Comm: agent Tainted: G           O L     6.6.0 #1",
	"RIP: 0010:csse332_write+0x40/0x120 [project]",
	"Call Trace:",
	" <IRQ>",
	" ? watchdog_timer_fn+0x1b2/0x210",
	" </IRQ>",
	" <TASK>",
	" proc_reg_write+0x59/0xa0",
	" vfs_write+0xc8/0x3d0",
	" </TASK>",
}

func concat(parts ...[]string) []string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func TestFindReports(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Report // Text is checked apart
	}{
		{
			name: "boot noise",
			text: console(boot...),
		},
		{
			name: "page fault with its oops",
			text: console(concat(boot, pageFault)...),
			want: []Report{{
				Title:       "BUG: unable to handle page fault for address: ffffc90000400000",
				Function:    "memcpy_erms+0x6/0x10",
				ModuleFrame: "csse332_read+0xb1/0xc9 [project]",
			}},
		},
		{
			name: "panic after the end of the trace",
			text: console(concat(boot, pageFault, panicAfter)...),
			want: []Report{{
				Title:       "BUG: unable to handle page fault for address: ffffc90000400000",
				Function:    "memcpy_erms+0x6/0x10",
				ModuleFrame: "csse332_read+0xb1/0xc9 [project]",
			}, {
				Title: "Kernel panic - not syncing: Fatal exception",
			}},
		},
		{
			name: "warning in the module",
			text: console(concat(boot, warning)...),
			want: []Report{{
				Title: "WARNING: CPU: 0 PID: 1 at lib/list_debug.c:59 " +
					"__list_del_entry_valid+0x8e/0xc0",
				Function:    "csse332_init+0x1d/0x30 [project]",
				ModuleFrame: "csse332_init+0x1d/0x30 [project]",
			}},
		},
		{
			name: "soft lockup",
			text: console(concat(boot, softLockup)...),
			want: []Report{{
				Title:       "watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [agent:93]",
				Function:    "csse332_write+0x40/0x120 [project]",
				ModuleFrame: "csse332_write+0x40/0x120 [project]",
			}},
		},
		{
			name: "without timestamps",
			text: strings.Join(concat(boot, softLockup), "\n"),
			want: []Report{{
				Title:       "watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [agent:93]",
				Function:    "csse332_write+0x40/0x120 [project]",
				ModuleFrame: "csse332_write+0x40/0x120 [project]",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FindReports(tt.text)
			if len(got) != len(tt.want) {
				t.Fatalf("FindReports() found %d reports, want %d: %+v",
					len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Title != w.Title || g.Function != w.Function ||
					g.ModuleFrame != w.ModuleFrame {
					t.Errorf("report %d = {%q, %q, %q}, want {%q, %q, %q}", i,
						g.Title, g.Function, g.ModuleFrame, w.Title, w.Function, w.ModuleFrame)
				}
				if first, _, _ := strings.Cut(g.Text, "\n"); first != w.Title {
					t.Errorf("report %d text starts %q, want the bare title", i, first)
				}
			}
		})
	}
}

func TestFindReportsText(t *testing.T) {
	reports := FindReports(console(concat(boot, pageFault, panicAfter)...))
	if len(reports) != 2 {
		t.Fatalf("found %d reports, want 2", len(reports))
	}

	oops := reports[0].Text
	for _, want := range []string{
		"Oops: 0002 [#1] PREEMPT SMP NOPTI",
		"csse332_read+0xb1/0xc9 [project]",
		"CR2: ",
	} {
		if !strings.Contains(oops, want) {
			t.Errorf("the oops report lacks %q:\n%s", want, oops)
		}
	}
	for _, not := range []string{"end trace", "Kernel panic", "initializing", "\r"} {
		if strings.Contains(oops, not) {
			t.Errorf("the oops report holds %q:\n%s", not, oops)
		}
	}
	if !strings.Contains(reports[1].Text, "---[ end Kernel panic") {
		t.Errorf("the panic report lacks its last line:\n%s", reports[1].Text)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{
			name: "title only",
			r:    Report{Title: "Kernel panic - not syncing: Fatal exception"},
			want: "Kernel panic - not syncing: Fatal exception",
		},
		{
			name: "in the kernel, called from the module",
			r: Report{Title: "BUG: unable to handle page fault for address: ffffc90000400000",
				Function: "memcpy_erms+0x6/0x10", ModuleFrame: "csse332_read+0xb1/0xc9 [project]"},
			want: "BUG: unable to handle page fault for address: ffffc90000400000 " +
				"in memcpy_erms+0x6/0x10, called from csse332_read+0xb1/0xc9 [project]",
		},
		{
			name: "in the module itself",
			r: Report{Title: "watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [agent:93]",
				Function:    "csse332_write+0x40/0x120 [project]",
				ModuleFrame: "csse332_write+0x40/0x120 [project]"},
			want: "watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [agent:93] " +
				"in csse332_write+0x40/0x120 [project]",
		},
		{
			name: "in the module itself, with its line",
			r: Report{Title: "watchdog: BUG: soft lockup - CPU#0 stuck for 6s! [init:81]",
				Function:    "csse_init+0x1d/0x1000 [project]",
				ModuleFrame: "csse_init+0x1d/0x1000 [project] (project.c:88)"},
			want: "watchdog: BUG: soft lockup - CPU#0 stuck for 6s! [init:81] " +
				"in csse_init+0x1d/0x1000 [project] (project.c:88)",
		},
		{
			name: "module frame without a RIP",
			r: Report{Title: "WARNING: CPU: 0 PID: 1 at x",
				ModuleFrame: "csse332_init+0x1d/0x30 [project]"},
			want: "WARNING: CPU: 0 PID: 1 at x, called from csse332_init+0x1d/0x30 [project]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Summary(); got != tt.want {
				t.Errorf("Summary() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConsoleBounded(t *testing.T) {
	var c Console
	head := []byte(console(concat(boot, warning)...))
	if n, err := c.Write(head); n != len(head) || err != nil {
		t.Fatalf("Write() = %d, %v; want %d, nil", n, err, len(head))
	}
	flood := bytes.Repeat([]byte("[csse332]: flood\n"), (3<<20)/17)
	c.Write(flood)
	mark := c.Len()
	c.Write(flood)
	crash := []byte(console(pageFault...))
	c.Write(crash)

	total := len(head) + 2*len(flood) + len(crash)
	if c.Len() != total {
		t.Errorf("Len() = %d, want every byte counted: %d", c.Len(), total)
	}
	if n := len(c.String()); n > consoleHead+consoleTail+100 {
		t.Errorf("String() holds %d bytes, want at most the head and the tail", n)
	}
	if !strings.HasPrefix(c.String(), string(head)) {
		t.Errorf("the console lost its first bytes")
	}
	if !strings.Contains(c.String(), "bytes of console output left out") {
		t.Errorf("String() does not say that bytes were left out")
	}
	got := c.Reports(0)
	if len(got) < 2 || !strings.HasPrefix(got[0].Title, "WARNING: ") ||
		!strings.Contains(got[len(got)-1].Title, "page fault") {
		t.Errorf("Reports(0) = %+v, want the warning first and the crash after the flood last", got)
	}
	if got := c.Reports(mark); len(got) != 1 || !strings.Contains(got[0].Title, "page fault") {
		t.Errorf("Reports(mark) = %+v, want only the crash after the flood", got)
	}
	if got := c.Since(c.Len()); got != "" {
		t.Errorf("Since(Len()) = %q, want nothing", got)
	}
	if got := c.Reports(total + 100); len(got) != 0 {
		t.Errorf("Reports past the end = %+v, want none", got)
	}
}

// TestConsoleSmall checks positions when nothing is left out.
func TestConsoleSmall(t *testing.T) {
	var c Console
	c.Write([]byte("one\n"))
	at := c.Len()
	c.Write([]byte("two\n"))
	if got := c.Since(at); got != "two\n" {
		t.Errorf("Since(%d) = %q, want %q", at, got, "two\n")
	}
	if got := c.String(); got != "one\ntwo\n" {
		t.Errorf("String() = %q", got)
	}
}

//go:build linux

package guest

import (
	"testing"

	"kmodgrade/grader/step"
)

func TestParseTraceLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       step.MemEvent
		ok         bool
	}{
		{"bare call site: the module is unloaded",
			"insmod-83 [000] ..... 2.361047: kmalloc: call_site=0xffffffffc025c027 ptr=000000009fcf68dc bytes_req=40 bytes_alloc=64 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false",
			step.MemEvent{Kind: "kmalloc", CallSite: 0xffffffffc025c027, Ptr: "000000009fcf68dc", Bytes: 40}, true},
		{"a core kernel symbol",
			"rmmod-87 [000] ..... 2.440598: kfree: call_site=__do_sys_delete_module+0x274/0x330 ptr=0000000016db237c",
			step.MemEvent{Kind: "kfree", Ptr: "0000000016db237c"}, true},
		{"a symbol of the module, still loaded",
			"init-1 [000] ..... 2.4: kmalloc: call_site=csse332_write+0x4a/0x120 [project] ptr=00000000af0ee083 bytes_req=6 bytes_alloc=8 gfp_flags=GFP_KERNEL node=-1 accounted=false",
			step.MemEvent{Kind: "kmalloc", Caller: "csse332_write+0x4a/0x120", Ptr: "00000000af0ee083", Bytes: 6}, true},
		{"a symbol of another module",
			"init-1 [000] ..... 2.4: kfree: call_site=other_fn+0x4a/0x120 [other] ptr=00000000af0ee083",
			step.MemEvent{Kind: "kfree", Ptr: "00000000af0ee083"}, true},
		{"another event", "init-1 [000] ..... 2.4: kmem_cache_alloc: call_site=x+0x1/0x2 ptr=0000000000000001", step.MemEvent{}, false},
		{"the trace header", "# tracer: nop", step.MemEvent{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTraceLine(tc.line, "project")
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("parseTraceLine = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRecordText(t *testing.T) {
	for in, want := range map[string]string{
		"6,339,5140900,-;[csse332]: Module csse332 initializing...\n":         "[csse332]: Module csse332 initializing...",
		"4,12,100,-;project: loading out-of-tree module\n SUBSYSTEM=module\n": "project: loading out-of-tree module",
		"6,1,1,-;a;b\n": "a;b",
	} {
		if got := recordText(in); got != want {
			t.Errorf("recordText(%q) = %q, want %q", in, got, want)
		}
	}
}

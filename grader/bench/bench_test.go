package bench

import (
	"os"
	"testing"
	"time"
)

func TestBusyTime(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  1000 20 300 99999 77 4 5 6 0 0\ncpu0 500 10 150 50000 30 2 2 3 0 0\n"
	got, ok := busyTime(stat)
	want := (1000 + 20 + 300 + 4 + 5) * 10 * time.Millisecond
	if !ok || got != want {
		t.Errorf("busyTime = %v, %v; want %v, true (idle, iowait and steal are not busy)", got, ok, want)
	}
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu 1 2 x 4 5 6 7\n"} {
		if _, ok := busyTime(bad); ok {
			t.Errorf("busyTime(%q) is ok; want not ok", bad)
		}
	}
	if now, ok := busyTime(readStat(t)); !ok || now <= 0 {
		t.Errorf("this machine's /proc/stat gives %v, %v", now, ok)
	}
}

func readStat(t *testing.T) string {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

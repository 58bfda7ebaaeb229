package vm

import (
	"context"
	"os"
	"time"
)

// ChooseAccel says whether guests should run under "kvm" or "tcg", and why.
// On some machines /dev/kvm opens but guests hang under it, so only a boot
// tells: it boots one guest from initrd under KVM with a short deadline.
func ChooseAccel(ctx context.Context, cfg *Config, initrd string) (string, string) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", "/dev/kvm: " + err.Error()
	}
	f.Close()
	probe := *cfg
	probe.Accel, probe.BootTimeout = "kvm", 10*time.Second
	g, err := Start(ctx, &probe, initrd)
	if err != nil {
		return "tcg", "/dev/kvm opens, but a guest did not boot under KVM: " + err.Error()
	}
	g.Close()
	return "kvm", "a guest booted under KVM"
}

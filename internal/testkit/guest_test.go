package testkit

import (
	"os"
	"testing"
)

// TestGuestBoot boots a guest running this very test: inside, it checks that
// the NVMe namespace and the vfio container device are there.
func TestGuestBoot(t *testing.T) {
	if InGuest() {
		for _, p := range []string{"/dev/nvme0n1", "/dev/vfio/vfio", "/sys/bus/pci/devices/" + GuestNVMeDevice(0)} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("in guest: %v", err)
			}
		}
		return
	}
	bin := GuestTestBinary(t)
	res := GuestTest(t, GuestConfig{
		Binary:     bin,
		Args:       []string{"-test.run", "^TestGuestBoot$", "-test.v"},
		Disks:      []GuestDisk{{Serial: "wguboot"}},
		LoadNVMe:   true,
		NVMeParams: "poll_queues=2",
	})
	t.Logf("guest ran in %v:\n%s", res.Elapsed, res.Output)
}

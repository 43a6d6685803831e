package vfio_test

// guest_boot_test.go is the host side of the vfio guest tests: an external
// test package, because internal/testkit reaches nvme (and so this
// package) through its other helpers.

import (
	"bytes"
	"testing"
	"time"

	"github.com/weft-fs/weft/internal/testkit"
)

// TestGuestVFIO boots a QEMU guest with one emulated NVMe controller
// behind intel-iommu and runs this package's TestInGuest* tests there.
func TestGuestVFIO(t *testing.T) {
	bin := testkit.GuestTestBinary(t)
	res := testkit.GuestTest(t, testkit.GuestConfig{
		Binary:     bin,
		Args:       []string{"-test.run", "^TestInGuest", "-test.v", "-test.timeout", "4m"},
		Disks:      []testkit.GuestDisk{{Serial: "wguvfio0", SizeBytes: 64 << 20}},
		LoadNVMe:   true,
		NVMeParams: "poll_queues=2",
		Timeout:    4 * time.Minute,
	})
	t.Logf("guest ran in %v:\n%s", res.Elapsed, res.Output)
	for _, name := range []string{"TestInGuestIdentify", "TestInGuestRelease", "TestInGuestReadWrite", "TestInGuestWrap", "TestInGuestTimeout"} {
		if !bytes.Contains(res.Output, []byte("--- PASS: "+name+" ")) {
			t.Errorf("%s did not pass in the guest", name)
		}
	}
}

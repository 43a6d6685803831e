package vfio

import (
	"encoding/binary"
	"errors"
	"testing"
)

func identifySeeds() ([]byte, []byte) {
	ctrl := make([]byte, identifySize)
	binary.LittleEndian.PutUint16(ctrl[idCtrlVID:], 0x1b36)
	copy(ctrl[idCtrlSN:], "wgu0001             ")
	copy(ctrl[idCtrlMN:], "QEMU NVMe Ctrl                          ")
	copy(ctrl[idCtrlFR:], "7.2.0   ")
	ctrl[idCtrlMDTS] = 7
	ns := make([]byte, identifySize)
	binary.LittleEndian.PutUint64(ns[idNsNSZE:], 131072)
	ns[idNsNLBAF] = 1
	ns[idNsFLBAS] = 1
	binary.LittleEndian.PutUint32(ns[idNsLBAF:], 9<<16)
	binary.LittleEndian.PutUint32(ns[idNsLBAF+4:], 12<<16)
	return ctrl, ns
}

func TestParseIdentify(t *testing.T) {
	ctrlData, nsData := identifySeeds()
	ctrl, err := parseIdentifyController(ctrlData)
	if err != nil {
		t.Fatal(err)
	}
	if ctrl.serial != "wgu0001" || ctrl.model != "QEMU NVMe Ctrl" || ctrl.firmware != "7.2.0" || ctrl.mdts != 7 || ctrl.vendor != 0x1b36 {
		t.Fatalf("controller = %+v", ctrl)
	}
	ns, err := parseIdentifyNamespace(nsData)
	if err != nil {
		t.Fatal(err)
	}
	if ns.blocks != 131072 || ns.lbaBytes != 4096 {
		t.Fatalf("namespace = %+v", ns)
	}
	for _, tc := range []struct {
		name string
		edit func(b []byte)
	}{
		{"zero size", func(b []byte) { binary.LittleEndian.PutUint64(b[idNsNSZE:], 0) }},
		{"index beyond formats", func(b []byte) { b[idNsFLBAS] = 5 }},
		{"8 KiB LBA", func(b []byte) { binary.LittleEndian.PutUint32(b[idNsLBAF+4:], 13<<16) }},
		{"metadata", func(b []byte) { binary.LittleEndian.PutUint32(b[idNsLBAF+4:], 12<<16|8) }},
	} {
		b := append([]byte(nil), nsData...)
		tc.edit(b)
		if _, err := parseIdentifyNamespace(b); !errors.Is(err, ErrNotNVMe) {
			t.Errorf("%s: err = %v, want ErrNotNVMe", tc.name, err)
		}
	}
	if _, err := parseIdentifyNamespace(nsData[:100]); err == nil {
		t.Error("short namespace data accepted")
	}
}

func FuzzIdentify(f *testing.F) {
	ctrl, ns := identifySeeds()
	f.Add(ctrl)
	f.Add(ns)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < identifySize {
			b = append(b, make([]byte, identifySize-len(b))...)
		}
		if c, err := parseIdentifyController(b); err == nil && len(c.serial) > 20 {
			t.Fatalf("serial %q longer than its field", c.serial)
		}
		if n, err := parseIdentifyNamespace(b); err == nil {
			if n.lbaBytes < 512 || n.lbaBytes > 4096 || n.blocks == 0 {
				t.Fatalf("accepted namespace %+v", n)
			}
		}
	})
}

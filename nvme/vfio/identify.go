package vfio

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Identify data offsets (NVMe Base Specification 2.0, figures 275 and
// NVM Command Set 1.0, figure 97).
const (
	idCtrlVID    = 0   // PCI vendor id, 2 bytes
	idCtrlSN     = 4   // serial number, 20 ASCII bytes
	idCtrlMN     = 24  // model number, 40 ASCII bytes
	idCtrlFR     = 64  // firmware revision, 8 ASCII bytes
	idCtrlMDTS   = 77  // max data transfer size, 2^n pages (0: no limit)
	idNsNSZE     = 0   // namespace size in LBAs, 8 bytes
	idNsNLBAF    = 25  // number of LBA formats, 0-based
	idNsFLBAS    = 26  // formatted LBA size: format index in bits 3:0
	idNsLBAF     = 128 // LBA format descriptors, 4 bytes each
	idNsLBAFMax  = 64  // descriptors in the structure
	lbaShiftMin  = 9   // 512-byte LBAs
	lbaShiftMax  = 12  // 4 KiB LBAs: PRPs and weft blocks assume no larger
	identifySize = 4096
)

type identifyController struct {
	vendor                  uint16
	serial, model, firmware string
	mdts                    uint8
}

type identifyNamespace struct {
	blocks   uint64
	lbaBytes int
}

// parseIdentifyController decodes the Identify Controller data structure.
func parseIdentifyController(b []byte) (identifyController, error) {
	if len(b) < identifySize {
		return identifyController{}, errIdentifyShort
	}
	return identifyController{
		vendor:   binary.LittleEndian.Uint16(b[idCtrlVID:]),
		serial:   idString(b[idCtrlSN : idCtrlSN+20]),
		model:    idString(b[idCtrlMN : idCtrlMN+40]),
		firmware: idString(b[idCtrlFR : idCtrlFR+8]),
		mdts:     b[idCtrlMDTS],
	}, nil
}

// parseIdentifyNamespace decodes the Identify Namespace data structure and
// refuses formats the driver cannot serve (metadata-interleaved LBAs are
// fine to skip: only the data size matters for PRPs).
func parseIdentifyNamespace(b []byte) (identifyNamespace, error) {
	if len(b) < identifySize {
		return identifyNamespace{}, errIdentifyShort
	}
	nsze := binary.LittleEndian.Uint64(b[idNsNSZE:])
	if nsze == 0 {
		return identifyNamespace{}, fmt.Errorf("namespace size 0: %w", ErrNotNVMe)
	}
	nlbaf := int(b[idNsNLBAF]) + 1
	idx := int(b[idNsFLBAS] & 0xf)
	if idx >= nlbaf || idx >= idNsLBAFMax {
		return identifyNamespace{}, fmt.Errorf("formatted LBA index %d beyond %d formats: %w", idx, nlbaf, ErrNotNVMe)
	}
	lbaf := binary.LittleEndian.Uint32(b[idNsLBAF+4*idx:])
	ms := lbaf & 0xffff
	shift := int(lbaf>>16) & 0xff
	if shift < lbaShiftMin || shift > lbaShiftMax {
		return identifyNamespace{}, fmt.Errorf("LBA data size 2^%d bytes: want 512 to 4096: %w", shift, ErrNotNVMe)
	}
	if ms != 0 {
		return identifyNamespace{}, fmt.Errorf("LBA format with %d metadata bytes per block: want none: %w", ms, ErrNotNVMe)
	}
	if nsze > (1<<63)>>shift {
		return identifyNamespace{}, fmt.Errorf("namespace size %d LBAs overflows: %w", nsze, ErrNotNVMe)
	}
	return identifyNamespace{blocks: nsze, lbaBytes: 1 << shift}, nil
}

// idString trims an Identify ASCII field (space padded) and replaces
// bytes outside printable ASCII.
func idString(b []byte) string {
	s := []byte(strings.TrimRight(string(b), " \x00"))
	for i, c := range s {
		if c < 0x20 || c > 0x7e {
			s[i] = '?'
		}
	}
	return string(s)
}

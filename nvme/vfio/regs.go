package vfio

// regs.go holds the NVMe controller registers, queue entry layouts and
// opcodes this driver uses (NVM Express Base Specification 2.0, section 3.1
// for registers, 4.2/4.6 for queue entries, 5 for admin commands).

// Controller register offsets in BAR0.
const (
	regCAP    = 0x00   // controller capabilities, 64 bit
	regVS     = 0x08   // version
	regCC     = 0x14   // controller configuration
	regCSTS   = 0x1c   // controller status
	regAQA    = 0x24   // admin queue attributes
	regASQ    = 0x28   // admin submission queue base, 64 bit
	regACQ    = 0x30   // admin completion queue base, 64 bit
	regDBBase = 0x1000 // first doorbell; stride is 4 << CAP.DSTRD
)

// CAP fields.
func capMQES(c uint64) int      { return int(c&0xffff) + 1 }       // entries per queue, max
func capTimeoutMs(c uint64) int { return int((c>>24)&0xff) * 500 } // CC.EN / CSTS.RDY transition bound
func capDSTRD(c uint64) uint    { return uint((c >> 32) & 0xf) }   // doorbell stride exponent
func capCSSNVM(c uint64) bool   { return (c>>37)&1 == 1 }          // NVM command set supported
func capMPSMin(c uint64) uint   { return uint((c >> 48) & 0xf) }   // 2^(12+MPSMIN) bytes

// CC fields and values.
const (
	ccEN        = 1 << 0
	ccCSSNVM    = 0 << 4
	ccMPS4K     = 0 << 7 // memory page size 2^(12+0)
	ccAMSRR     = 0 << 11
	ccSHNNormal = 1 << 14
	ccSHNMask   = 3 << 14
	ccIOSQES    = 6 << 16 // 2^6 = 64-byte submission entries
	ccIOCQES    = 4 << 20 // 2^4 = 16-byte completion entries
)

// CSTS fields.
const (
	cstsRDY      = 1 << 0
	cstsCFS      = 1 << 1 // controller fatal status
	cstsSHSTMask = 3 << 2
	cstsSHSTDone = 2 << 2
)

// Queue entry sizes.
const (
	sqeBytes = 64
	cqeBytes = 16
)

// pageBytes is the controller memory page size this driver configures
// (CC.MPS = 0) and the unit of PRP entries.
const pageBytes = 4096

// Admin opcodes.
const (
	adminDeleteSQ    = 0x00
	adminCreateSQ    = 0x01
	adminDeleteCQ    = 0x04
	adminCreateCQ    = 0x05
	adminIdentify    = 0x06
	adminAbort       = 0x08
	adminSetFeatures = 0x09
	adminAsyncEvent  = 0x0c
)

// NVM command set opcodes.
const (
	nvmFlush = 0x00
	nvmWrite = 0x01
	nvmRead  = 0x02
)

// Identify CNS values and feature identifiers.
const (
	cnsNamespace       = 0x00
	cnsController      = 0x01
	cnsActiveNSList    = 0x02
	featNumberOfQueues = 0x07
)

// sqe is one submission queue entry, laid out as the controller reads it.
type sqe struct {
	cdw0  uint32 // opcode 7:0, fuse 9:8, psdt 15:14, command id 31:16
	nsid  uint32
	cdw2  uint32
	cdw3  uint32
	mptr  uint64
	prp1  uint64
	prp2  uint64
	cdw10 uint32
	cdw11 uint32
	cdw12 uint32
	cdw13 uint32
	cdw14 uint32
	cdw15 uint32
}

// cqe is one completion queue entry.
type cqe struct {
	dw0    uint32 // command specific result
	dw1    uint32
	sqHead uint16
	sqID   uint16
	cid    uint16
	status uint16 // phase bit 0, status field 15:1
}

// Status is an NVMe completion status: status code type and status code,
// as the controller reported them (the phase bit stripped).
type Status uint16

// Status values the driver names.
const (
	// StatusSuccess: the command completed without error.
	StatusSuccess Status = 0
	// StatusInvalidOpcode: generic status, invalid command opcode.
	StatusInvalidOpcode Status = 0x01
	// StatusInvalidField: generic status, invalid field in command.
	StatusInvalidField Status = 0x02
	// StatusLBAOutOfRange: generic status, LBA out of range.
	StatusLBAOutOfRange Status = 0x80
)

func statusOf(raw uint16) Status { return Status(raw>>1) & 0x7ff } // SCT 10:8, SC 7:0

// SCT is the status code type (0 generic, 1 command specific, 2 media).
func (s Status) SCT() int { return int(s>>8) & 7 }

// SC is the status code within its type.
func (s Status) SC() int { return int(s) & 0xff }

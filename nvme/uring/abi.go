package uring

// The kernel ABI of io_uring (include/uapi/linux/io_uring.h), written out
// here because golang.org/x/sys/unix only carries the syscall numbers.

// Setup flags (io_uring_params.flags).
const (
	setupIOPoll    = 1 << 0  // IORING_SETUP_IOPOLL
	setupSQPoll    = 1 << 1  // IORING_SETUP_SQPOLL
	setupSQAff     = 1 << 2  // IORING_SETUP_SQ_AFF
	setupCQSize    = 1 << 3  // IORING_SETUP_CQSIZE
	setupClamp     = 1 << 4  // IORING_SETUP_CLAMP
	setupSubmitAll = 1 << 7  // IORING_SETUP_SUBMIT_ALL
	setupCoopTask  = 1 << 8  // IORING_SETUP_COOP_TASKRUN
	setupSingleIss = 1 << 12 // IORING_SETUP_SINGLE_ISSUER
)

// Features reported by the kernel (io_uring_params.features).
const (
	featSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP: SQ and CQ rings share one mmap
	featNoDrop     = 1 << 1 // IORING_FEAT_NODROP: CQ overflow is kept, not dropped
)

// mmap offsets.
const (
	offSQRing = 0          // IORING_OFF_SQ_RING
	offCQRing = 0x8000000  // IORING_OFF_CQ_RING
	offSQEs   = 0x10000000 // IORING_OFF_SQES
)

// io_uring_enter flags.
const (
	enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS
	enterSQWakeup  = 1 << 1 // IORING_ENTER_SQ_WAKEUP
)

// SQ ring flags.
const (
	sqNeedWakeup = 1 << 0 // IORING_SQ_NEED_WAKEUP
	sqCQOverflow = 1 << 1 // IORING_SQ_CQ_OVERFLOW
	sqTaskrun    = 1 << 2 // IORING_SQ_TASKRUN
)

// io_uring_register opcodes.
const (
	registerBuffers   = 0 // IORING_REGISTER_BUFFERS
	unregisterBuffers = 1 // IORING_UNREGISTER_BUFFERS
	registerFiles     = 2 // IORING_REGISTER_FILES
	unregisterFiles   = 3 // IORING_UNREGISTER_FILES
	registerEventfd   = 4 // IORING_REGISTER_EVENTFD
	unregisterEventfd = 5 // IORING_UNREGISTER_EVENTFD
)

// Opcode is an SQE operation.
type Opcode uint8

// Operations weft uses.
const (
	OpNop        Opcode = 0  // IORING_OP_NOP
	OpFsync      Opcode = 3  // IORING_OP_FSYNC
	OpReadFixed  Opcode = 4  // IORING_OP_READ_FIXED: into a registered buffer
	OpWriteFixed Opcode = 5  // IORING_OP_WRITE_FIXED: from a registered buffer
	OpRead       Opcode = 22 // IORING_OP_READ
	OpWrite      Opcode = 23 // IORING_OP_WRITE
)

// SQE flags.
const (
	// SQEFixedFile: Fd is an index into the registered files.
	SQEFixedFile = 1 << 0
	// SQEIODrain: start only after every earlier SQE completed.
	SQEIODrain = 1 << 1
	// SQEIOLink: the next SQE starts only after this one succeeds; if it
	// fails, the rest of the chain completes with -ECANCELED.
	SQEIOLink = 1 << 2
)

// FsyncDatasync makes OpFsync an fdatasync (IORING_FSYNC_DATASYNC).
const FsyncDatasync = 1 << 0

// sqringOffsets is struct io_sqring_offsets.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// SQE is struct io_uring_sqe (64 bytes).
type SQE struct {
	Opcode      Opcode // operation
	Flags       uint8  // SQE* flags
	IOPrio      uint16 // IO priority
	Fd          int32  // file descriptor, or registered file index with SQEFixedFile
	Off         uint64 // file offset in bytes
	Addr        uint64 // buffer address
	Len         uint32 // buffer length in bytes
	OpFlags     uint32 // rw_flags, fsync_flags, ...
	UserData    uint64 // returned in the CQE
	BufIndex    uint16 // registered buffer index for OpReadFixed/OpWriteFixed
	Personality uint16 // registered credentials, 0 = the submitter's
	SpliceFdIn  int32  // splice input, or file index for direct descriptors
	Addr3       uint64 // third address (uring_cmd, attributes)
	_           uint64
}

// CQE is struct io_uring_cqe (16 bytes).
type CQE struct {
	UserData uint64 // the SQE's UserData
	Res      int32  // bytes transferred, or -errno
	Flags    uint32 // IORING_CQE_F_* flags
}

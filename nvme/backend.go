package nvme

// ioOp is a raw operation on the target, in bytes, below checksums.
type ioOp uint8

const (
	opRead ioOp = iota
	opWrite
	opFsync
)

// rawReq is one raw operation handed to a backend by the poll-mode API.
type rawReq struct {
	op   ioOp
	link bool // the next rawReq starts only after this one succeeds
	off  int64
	buf  []byte
	ud   uint64 // returned in rawCompletion.ud
	// table: buf is live checksum-table memory that other goroutines
	// update atomically; a backend whose writes read it through the race
	// detector's eyes (pwrite) writes a snapshot instead.
	table bool
}

// rawCompletion reports a finished rawReq: res is the byte count or -errno.
type rawCompletion struct {
	ud  uint64
	res int32
}

// backend is an IO path under a Drive. The poll-mode methods (submit, poll,
// pollFd, space) are called by one goroutine at a time, as the Drive's
// poll-mode API is; do and fsync are safe for concurrent use.
type backend interface {
	name() string
	// submit starts reqs in order and returns how many it accepted.
	submit(reqs []rawReq) (int, error)
	// poll moves finished operations to out without blocking.
	poll(out []rawCompletion) int
	// wait blocks until at least one operation finished (or none is in flight).
	wait() error
	// pollFd is readable while completions are pending, or -1.
	pollFd() int
	// space is how many rawReqs submit accepts now.
	space() int
	// do runs one operation and waits for it; safe for concurrent use.
	do(op ioOp, off int64, buf []byte) error
	close() error
}

// overlapper is a backend whose blocking path can start an operation and
// wait for it separately, so the caller computes checksums while the
// device moves the data.
type overlapper interface {
	// begin starts op and returns a ticket for end; safe for concurrent use.
	begin(op ioOp, off int64, buf []byte) uint32
	// end waits for the operation begin started.
	end(ticket uint32, op ioOp, buf []byte) error
}

// overlapBytesMin is the smallest write whose checksums are computed while
// it is in flight: below it the extra io_uring_enter (submit, then wait,
// instead of one call for both) costs more than the overlap saves.
const overlapBytesMin = 64 << 10

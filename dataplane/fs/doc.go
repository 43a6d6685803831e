// Package fs is the contract between weft's frontend and compute roles:
// Service, one POSIX namespace, and the types its calls carry.
//
//	kernel ─FUSE─► frontend ──fs.Service──► fsrpc client ─proto/fsmsg─► messenger
//	                                                                      │ UDP / AF_XDP
//	          pool.FS (compute role) ◄──fs.Service── fsrpc server ◄───────┘
//
// The frontend serves any Service to the kernel; the compute role
// (dataplane/pool) implements it; dataplane/fsrpc carries it over weft's
// protocol, so a frontend never calls the compute role in-process, even on
// one host. Errors a caller branches on are syscall.Errno values, which is
// also what travels on the wire; Errno recovers one from a wrapped error.
package fs

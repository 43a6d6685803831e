// Package fsrpc carries fs.Service over weft's messenger: Serve
// registers a handler per file-system opcode on the compute role's
// messenger, and Client is an fs.Service on the frontend's side whose
// every method is one Call. Bodies are proto/fsmsg's.
//
//	frontend host                               compute host (or the same)
//	─────────────                               ──────────────────────────
//	FUSE request                                 messenger worker
//	  └► Client.Read ─ fsmsg.ReadReq ─► Call ─UDP/AF_XDP─► Server.read
//	                                                         └► fs.Service.Read
//	     buf ◄────── reply bytes copied into the caller's buffer ◄─┘ (into the
//	                                                          reply writer)
//
// The same path is used whether the compute role runs in this process
// or on another host: there is no in-process shortcut.
//
// Hot path: Read sends a fixed 28-byte request from the stack and the
// messenger copies the reply straight into the caller's buffer (for the
// frontend, go-fuse's reply buffer); Write copies the data once behind
// its header into a pooled buffer. The server reads into the reply
// writer's buffer in place and decodes WriteReq's data without copying.
// Reads are tagged RDMA-eligible from 32 KiB, writes from 256 KiB.
//
// Errors: the server answers a service error with its errno (EIO for
// errors that carry none, logged) and a malformed body with EPROTO; the
// client returns remote errnos as syscall.Errno and wraps transport
// failures (peer dead, messenger closed), which fs.Errno maps to EIO.
//
// Two calls go beyond fs.Service to save round trips, composed on the
// server next to the file system: ReadDirPlus (frontend.DirPlusReader)
// lists a batch of entries with their attributes, and Create
// (frontend.FileCreator) makes and opens a file, as open(O_CREAT) does.
package fsrpc

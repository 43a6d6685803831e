// Package fsmsg holds the wire bodies of the file-system ops: one opcode
// per fs.Service method (0x0100–0x01FF) and, for each, a request and a
// reply body with an encoder and a decoder written by hand.
//
// The messenger frames, checksums (CRC32C), fragments and retransmits
// messages; fsmsg only says what the bytes of a body mean:
//
//	frontend (fsrpc client)                    compute (fsrpc server)
//	  ReadReq.Append ──► messenger.Call ─ UDP ─► Handler: ReadReq.Decode
//	  reply bytes = file data ◄───────────────── fs.Service.Read into reply
//
// Encoding: little-endian fixed-width integers; names and symlink
// targets as a u16 length and bytes; xattr values and write data as a
// u32 length and bytes; a caller as uid, gid, pid, then a u16 group count
// and the groups. Every field has a named limit (NameBytesMax,
// IOBytesMax, ...) that decoders enforce, and the format is canonical:
// a body a decoder accepts re-encodes to the same bytes (the fuzz
// targets check this).
//
// Encoders append to a caller's buffer (Append(b []byte) []byte) and
// decoders fill a caller's struct, so the read and write path allocates
// nothing: ReadReq, WriteReq, WriteResp and Attr decode in place, and
// WriteReq.Data aliases the received body instead of copying it. Names
// are copied into strings on decode because the file system may keep
// them past the message.
//
// Errors are not encoded here: the messenger carries a remote errno in
// its reply header and Call returns it as a syscall.Errno.
package fsmsg

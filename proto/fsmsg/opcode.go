package fsmsg

import "github.com/weft-fs/weft/proto"

// Opcodes of the file-system ops, one per fs.Service method, in the range
// proto.OpFSFirst–proto.OpFSLast. The values are wire format: append,
// never renumber.
const (
	OpLookup      proto.Opcode = 0x0100 // NameReq -> Attr
	OpGetAttr     proto.Opcode = 0x0101 // InoReq -> Attr
	OpSetAttr     proto.Opcode = 0x0102 // SetAttrReq -> Attr
	OpAccess      proto.Opcode = 0x0103 // AccessReq -> empty
	OpMknod       proto.Opcode = 0x0104 // CreateReq -> Attr
	OpMkdir       proto.Opcode = 0x0105 // CreateReq -> Attr
	OpSymlink     proto.Opcode = 0x0106 // SymlinkReq -> Attr
	OpReadlink    proto.Opcode = 0x0107 // InoReq -> target bytes
	OpLink        proto.Opcode = 0x0108 // LinkReq -> Attr
	OpUnlink      proto.Opcode = 0x0109 // NameReq -> empty
	OpRmdir       proto.Opcode = 0x010A // NameReq -> empty
	OpRename      proto.Opcode = 0x010B // RenameReq -> empty
	OpOpen        proto.Opcode = 0x010C // OpenReq -> OpenResp
	OpRelease     proto.Opcode = 0x010D // HandleReq -> empty
	OpRead        proto.Opcode = 0x010E // ReadReq -> file bytes
	OpWrite       proto.Opcode = 0x010F // WriteReq -> WriteResp
	OpFsync       proto.Opcode = 0x0110 // FsyncReq -> empty
	OpReadDir     proto.Opcode = 0x0111 // ReadDirReq -> dir entries
	OpSetXattr    proto.Opcode = 0x0112 // XattrReq -> empty
	OpGetXattr    proto.Opcode = 0x0113 // XattrReq -> XattrResp
	OpListXattr   proto.Opcode = 0x0114 // XattrReq -> XattrResp
	OpRemoveXattr proto.Opcode = 0x0115 // XattrReq -> empty
	OpStatFS      proto.Opcode = 0x0116 // empty -> StatFS
	OpReadDirPlus proto.Opcode = 0x0117 // ReadDirReq -> dir entries with attributes
	OpCreate      proto.Opcode = 0x0118 // CreateOpenReq -> OpenResp

	// OpFirst and OpLast bound the opcodes this package defines.
	OpFirst = OpLookup
	OpLast  = OpCreate
)

// opNames is indexed by opcode - OpFirst.
var opNames = [...]string{
	"lookup", "getattr", "setattr", "access", "mknod", "mkdir", "symlink",
	"readlink", "link", "unlink", "rmdir", "rename", "open", "release",
	"read", "write", "fsync", "readdir", "setxattr", "getxattr",
	"listxattr", "removexattr", "statfs", "readdirplus", "create",
}

// OpName names a file-system opcode for logs and stats, "" if op is not one.
func OpName(op proto.Opcode) string {
	if op < OpFirst || op > OpLast {
		return ""
	}
	return opNames[op-OpFirst]
}

// Limits on message fields. A decoder rejects a field over its limit with
// ErrTooLong, so a hostile or corrupt message cannot make the receiver
// allocate more than these.
const (
	// NameBytesMax is the longest directory entry name (NAME_MAX).
	NameBytesMax = 255
	// PathBytesMax is the longest symlink target (PATH_MAX).
	PathBytesMax = 4096
	// GroupsMax is how many supplementary groups a caller carries. More
	// are dropped by the encoder: the kernel has already checked mode
	// bits with the full set (default_permissions), so the compute role
	// only loses group membership for ownership changes.
	GroupsMax = 256
	// XattrNameBytesMax is the longest extended attribute name (XATTR_NAME_MAX).
	XattrNameBytesMax = 255
	// XattrValueBytesMax is the largest extended attribute value or
	// name list (XATTR_SIZE_MAX).
	XattrValueBytesMax = 64 << 10
	// IOBytesMax is the largest read or write one message carries; it is
	// the FUSE MaxWrite of the frontend.
	IOBytesMax = 1 << 20
	// ReadDirEntriesMax is the most directory entries one reply carries.
	ReadDirEntriesMax = 128
)

// Fixed sizes of encoded bodies, for callers that size buffers up front.
const (
	// AttrBytes is the encoded size of an fs.Attr.
	AttrBytes = 8 + 4*5 + 8*6
	// ReadReqBytes is the encoded size of a ReadReq.
	ReadReqBytes = 8 + 8 + 8 + 4
	// WriteHeaderBytes is the encoded size of a WriteReq before its data.
	WriteHeaderBytes = 8 + 8 + 8 + 1 + 4
	// WriteRespBytes is the encoded size of a WriteResp.
	WriteRespBytes = 8 + AttrBytes
	// OpenRespBytes is the encoded size of an OpenResp.
	OpenRespBytes = 8 + AttrBytes
	// StatFSBytes is the encoded size of an fs.StatFS.
	StatFSBytes = 4 + 8*5 + 4
	// dirEntryFixedBytes is an encoded directory entry without its name.
	dirEntryFixedBytes = 8 + 4 + 8 + 2
	// DirEntryBytesMax is the largest encoded directory entry with attributes.
	DirEntryBytesMax = dirEntryFixedBytes + NameBytesMax + AttrBytes
	// ReadDirRespBytesMax is the largest ReadDir reply.
	ReadDirRespBytesMax = 2 + ReadDirEntriesMax*DirEntryBytesMax
	// XattrRespBytesMax is the largest GetXattr/ListXattr reply.
	XattrRespBytesMax = 4 + XattrValueBytesMax
	// MessageBytesMax is the largest body of any file-system message.
	MessageBytesMax = WriteHeaderBytes + IOBytesMax
)

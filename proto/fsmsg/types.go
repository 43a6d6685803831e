package fsmsg

import "github.com/weft-fs/weft/dataplane/fs"

// AppendCaller appends c: uid, gid, pid (u32 each), then a u16 group
// count and the groups (u32 each), at most GroupsMax of them.
func AppendCaller(b []byte, c *fs.Caller) []byte {
	b = appendU32(b, c.Uid)
	b = appendU32(b, c.Gid)
	b = appendU32(b, c.Pid)
	g := c.Groups
	if len(g) > GroupsMax {
		g = g[:GroupsMax]
	}
	b = appendU16(b, uint16(len(g)))
	for _, v := range g {
		b = appendU32(b, v)
	}
	return b
}

// caller decodes into c, reusing c.Groups' storage.
func (r *reader) caller(c *fs.Caller) {
	c.Uid = r.u32()
	c.Gid = r.u32()
	c.Pid = r.u32()
	n := int(r.u16())
	if r.err != nil {
		return
	}
	if n > GroupsMax {
		r.err = ErrTooLong
		return
	}
	raw := r.take(4 * n)
	if r.err != nil {
		return
	}
	c.Groups = c.Groups[:0]
	for i := 0; i < n; i++ {
		c.Groups = append(c.Groups, le.Uint32(raw[4*i:]))
	}
}

// AppendAttr appends a in AttrBytes bytes.
func AppendAttr(b []byte, a *fs.Attr) []byte {
	b = appendU64(b, uint64(a.Ino))
	b = appendU32(b, a.Mode)
	b = appendU32(b, a.Nlink)
	b = appendU32(b, a.Uid)
	b = appendU32(b, a.Gid)
	b = appendU32(b, a.Rdev)
	b = appendU64(b, a.Size)
	b = appendU64(b, a.Blocks)
	b = appendU64(b, uint64(a.AtimeNs))
	b = appendU64(b, uint64(a.MtimeNs))
	b = appendU64(b, uint64(a.CtimeNs))
	b = appendU64(b, a.Generation)
	return b
}

func (r *reader) attr(a *fs.Attr) {
	a.Ino = fs.Ino(r.u64())
	a.Mode = r.u32()
	a.Nlink = r.u32()
	a.Uid = r.u32()
	a.Gid = r.u32()
	a.Rdev = r.u32()
	a.Size = r.u64()
	a.Blocks = r.u64()
	a.AtimeNs = int64(r.u64())
	a.MtimeNs = int64(r.u64())
	a.CtimeNs = int64(r.u64())
	a.Generation = r.u64()
}

// DecodeAttr decodes the reply of the ops that return attributes
// (lookup, getattr, setattr, mknod, mkdir, symlink, link).
func DecodeAttr(b []byte, a *fs.Attr) error {
	r := reader{b: b}
	r.attr(a)
	return wrap("attr", r.done())
}

func appendSetAttrIn(b []byte, in *fs.SetAttrIn) []byte {
	b = appendU32(b, in.Valid)
	b = appendU32(b, in.Mode)
	b = appendU32(b, in.Uid)
	b = appendU32(b, in.Gid)
	b = appendU64(b, in.Size)
	b = appendU64(b, uint64(in.AtimeNs))
	b = appendU64(b, uint64(in.MtimeNs))
	b = appendU64(b, uint64(in.CtimeNs))
	b = appendU64(b, in.Handle)
	return b
}

func (r *reader) setAttrIn(in *fs.SetAttrIn) {
	in.Valid = r.u32()
	in.Mode = r.u32()
	in.Uid = r.u32()
	in.Gid = r.u32()
	in.Size = r.u64()
	in.AtimeNs = int64(r.u64())
	in.MtimeNs = int64(r.u64())
	in.CtimeNs = int64(r.u64())
	in.Handle = r.u64()
}

// AppendStatFS appends s in StatFSBytes bytes.
func AppendStatFS(b []byte, s *fs.StatFS) []byte {
	b = appendU32(b, s.BlockSize)
	b = appendU64(b, s.Blocks)
	b = appendU64(b, s.BlocksFree)
	b = appendU64(b, s.BlocksAvail)
	b = appendU64(b, s.Files)
	b = appendU64(b, s.FilesFree)
	b = appendU32(b, s.NameMax)
	return b
}

// DecodeStatFS decodes the statfs reply.
func DecodeStatFS(b []byte, s *fs.StatFS) error {
	r := reader{b: b}
	s.BlockSize = r.u32()
	s.Blocks = r.u64()
	s.BlocksFree = r.u64()
	s.BlocksAvail = r.u64()
	s.Files = r.u64()
	s.FilesFree = r.u64()
	s.NameMax = r.u32()
	return wrap("statfs", r.done())
}

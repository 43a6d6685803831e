package fsrpc

import (
	"context"
	"log/slog"
	"sync"
	"syscall"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/proto"
	"github.com/weft-fs/weft/proto/fsmsg"
)

// Server serves one fs.Service to fsrpc clients: a messenger handler per
// file-system opcode decodes the request, calls the service and encodes
// the reply (or the errno) into the messenger's reply writer.
type Server struct {
	svc fs.Service
	log *slog.Logger
	// scratch holds xattr values and names between the service and the
	// reply writer (reads go straight into the writer's buffer).
	scratch sync.Pool // *[]byte of fsmsg.XattrValueBytesMax
}

// Serve registers svc's handlers on m for every fsmsg opcode and
// returns the server. One messenger serves one file system.
func Serve(m *messenger.Messenger, svc fs.Service, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{svc: svc, log: log}
	s.scratch.New = func() any {
		b := make([]byte, fsmsg.XattrValueBytesMax)
		return &b
	}
	for op, h := range map[proto.Opcode]messenger.Handler{
		fsmsg.OpLookup:      s.lookup,
		fsmsg.OpGetAttr:     s.getAttr,
		fsmsg.OpSetAttr:     s.setAttr,
		fsmsg.OpAccess:      s.access,
		fsmsg.OpMknod:       s.mknod,
		fsmsg.OpMkdir:       s.mkdir,
		fsmsg.OpSymlink:     s.symlink,
		fsmsg.OpReadlink:    s.readlink,
		fsmsg.OpLink:        s.link,
		fsmsg.OpUnlink:      s.unlink,
		fsmsg.OpRmdir:       s.rmdir,
		fsmsg.OpRename:      s.rename,
		fsmsg.OpOpen:        s.open,
		fsmsg.OpRelease:     s.release,
		fsmsg.OpRead:        s.read,
		fsmsg.OpWrite:       s.write,
		fsmsg.OpFsync:       s.fsync,
		fsmsg.OpReadDir:     s.readDir,
		fsmsg.OpReadDirPlus: s.readDirPlus,
		fsmsg.OpSetXattr:    s.setXattr,
		fsmsg.OpGetXattr:    s.getXattr,
		fsmsg.OpListXattr:   s.listXattr,
		fsmsg.OpRemoveXattr: s.removeXattr,
		fsmsg.OpStatFS:      s.statFS,
		fsmsg.OpCreate:      s.create,
	} {
		m.Handle(op, h)
	}
	return s
}

// fail turns a service or decode error into the reply's errno.
func (s *Server) fail(w *messenger.ReplyWriter, req *messenger.Request, err error) {
	e := fs.Errno(err)
	if e == syscall.EIO {
		s.log.Warn("fs request failed", "op", fsmsg.OpName(req.Op), "from", req.From, "err", err)
	}
	w.Error(e)
}

// badRequest answers a body that does not decode.
func (s *Server) badRequest(w *messenger.ReplyWriter, req *messenger.Request, err error) {
	s.log.Warn("malformed fs request", "op", fsmsg.OpName(req.Op), "from", req.From, "err", err)
	w.Error(syscall.EPROTO)
}

// replyAttr writes an attribute reply in place.
func replyAttr(w *messenger.ReplyWriter, a *fs.Attr) {
	fsmsg.AppendAttr(w.Grow(fsmsg.AttrBytes)[:0], a)
}

func (s *Server) lookup(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.NameReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.Lookup(ctx, m.Caller, m.Parent, m.Name)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	replyAttr(w, &a)
}

func (s *Server) getAttr(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.InoReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.GetAttr(ctx, m.Ino)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	replyAttr(w, &a)
}

func (s *Server) setAttr(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.SetAttrReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.SetAttr(ctx, m.Caller, m.Ino, m.In)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	replyAttr(w, &a)
}

func (s *Server) access(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.AccessReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.Access(ctx, m.Caller, m.Ino, m.Mask); err != nil {
		s.fail(w, req, err)
	}
}

func (s *Server) mknod(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.CreateReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.Mknod(ctx, m.Caller, m.Parent, m.Name, m.Mode, m.Rdev)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	replyAttr(w, &a)
}

func (s *Server) mkdir(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.CreateReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.Mkdir(ctx, m.Caller, m.Parent, m.Name, m.Mode)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	replyAttr(w, &a)
}

func (s *Server) symlink(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.SymlinkReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.Symlink(ctx, m.Caller, m.Parent, m.Name, m.Target)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	replyAttr(w, &a)
}

func (s *Server) readlink(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.InoReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	t, err := s.svc.Readlink(ctx, m.Ino)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	if len(t) > fsmsg.PathBytesMax {
		w.Error(syscall.ENAMETOOLONG)
		return
	}
	copy(w.Grow(len(t)), t)
}

func (s *Server) link(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.LinkReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.Link(ctx, m.Caller, m.Ino, m.NewParent, m.NewName)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	replyAttr(w, &a)
}

func (s *Server) unlink(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.NameReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.Unlink(ctx, m.Caller, m.Parent, m.Name); err != nil {
		s.fail(w, req, err)
	}
}

func (s *Server) rmdir(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.NameReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.Rmdir(ctx, m.Caller, m.Parent, m.Name); err != nil {
		s.fail(w, req, err)
	}
}

func (s *Server) rename(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.RenameReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.Rename(ctx, m.Caller, m.OldParent, m.OldName, m.NewParent, m.NewName, m.Flags); err != nil {
		s.fail(w, req, err)
	}
}

func (s *Server) open(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.OpenReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	var r fsmsg.OpenResp
	var err error
	if r.Handle, r.Attr, err = s.svc.Open(ctx, m.Caller, m.Ino, m.Flags); err != nil {
		s.fail(w, req, err)
		return
	}
	r.Append(w.Grow(fsmsg.OpenRespBytes)[:0])
}

// create makes a regular file and opens it (open with O_CREAT) next to
// the file system, saving the client a round trip. If another client
// made the name first and O_EXCL is not set, the existing file is
// opened, as open(O_CREAT) promises.
func (s *Server) create(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.CreateOpenReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	a, err := s.svc.Mknod(ctx, m.Caller, m.Parent, m.Name, syscall.S_IFREG|m.Mode&0o7777, 0)
	if fs.Errno(err) == syscall.EEXIST && m.Flags&syscall.O_EXCL == 0 {
		a, err = s.svc.Lookup(ctx, m.Caller, m.Parent, m.Name)
	}
	if err != nil {
		s.fail(w, req, err)
		return
	}
	var r fsmsg.OpenResp
	if r.Handle, r.Attr, err = s.svc.Open(ctx, m.Caller, a.Ino, m.Flags&^(syscall.O_CREAT|syscall.O_EXCL)); err != nil {
		s.fail(w, req, err)
		return
	}
	if r.Attr.Ino != a.Ino {
		r.Attr = a
	}
	r.Append(w.Grow(fsmsg.OpenRespBytes)[:0])
}

func (s *Server) release(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.HandleReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.Release(ctx, m.Handle); err != nil {
		s.fail(w, req, err)
	}
}

// read fills the reply writer's buffer in place: the only copy of the
// data between the file system and the wire is the one into packets.
func (s *Server) read(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.ReadReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	buf := w.Grow(int(m.Size))
	n, err := s.svc.Read(ctx, m.Handle, m.Ino, m.Off, buf)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	if n < len(buf) {
		// Short at end of file: cut the body to n. Reset keeps the
		// storage and Grow within capacity hands back the same bytes,
		// so the data read stays in place.
		w.Reset()
		w.Grow(n)
	}
}

func (s *Server) write(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.WriteReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	var r fsmsg.WriteResp
	var err error
	if r.At, r.Attr, err = s.svc.Write(ctx, m.Handle, m.Ino, m.Off, m.Data, m.Append); err != nil {
		s.fail(w, req, err)
		return
	}
	r.Append(w.Grow(fsmsg.WriteRespBytes)[:0])
}

func (s *Server) fsync(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.FsyncReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.Fsync(ctx, m.Handle, m.Ino, m.DataOnly); err != nil {
		s.fail(w, req, err)
	}
}

func (s *Server) readDir(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	s.serveReadDir(ctx, req, w, false)
}

func (s *Server) readDirPlus(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	s.serveReadDir(ctx, req, w, true)
}

// serveReadDir lists a batch; for readdirplus it looks up each entry
// here, next to the file system, so the client pays one round trip per
// batch. An entry removed between the listing and its lookup is left
// out (a listing is not a snapshot); if a whole batch vanished that way
// the next one is read, so an empty reply always means the end.
func (s *Server) serveReadDir(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter, plus bool) {
	var m fsmsg.ReadDirReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	var ents [fsmsg.ReadDirEntriesMax]fs.DirEntry
	fsmsg.SetDirCount(w.Grow(2), 0)
	count := 0
	for cookie := m.Cookie; count == 0; {
		n, err := s.svc.ReadDir(ctx, m.Caller, m.Ino, cookie, ents[:m.Count])
		if err != nil {
			s.fail(w, req, err)
			return
		}
		if n == 0 {
			break
		}
		for i := range ents[:n] {
			e := &ents[i]
			var ap *fs.Attr
			var a fs.Attr
			if plus {
				if e.Name == "." || e.Name == ".." {
					a.Ino = e.Ino // the frontend ignores attributes of dots
				} else if a, err = s.svc.Lookup(ctx, m.Caller, m.Ino, e.Name); err != nil {
					continue
				}
				ap = &a
			}
			var tmp [fsmsg.DirEntryBytesMax]byte
			w.Write(fsmsg.AppendDirEntry(tmp[:0], e, ap))
			count++
		}
		cookie = ents[n-1].Cookie
	}
	if count > 0 {
		s.setCount(w, count)
	}
}

// setCount patches the entry count at the start of the reply.
func (s *Server) setCount(w *messenger.ReplyWriter, n int) {
	l := w.Len()
	w.Reset()
	body := w.Grow(l)
	fsmsg.SetDirCount(body, n)
}

func (s *Server) setXattr(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.XattrReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.SetXattr(ctx, m.Caller, m.Ino, m.Name, m.Value, m.Flags); err != nil {
		s.fail(w, req, err)
	}
}

func (s *Server) getXattr(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	s.serveXattr(ctx, req, w, false)
}

func (s *Server) listXattr(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	s.serveXattr(ctx, req, w, true)
}

func (s *Server) serveXattr(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter, list bool) {
	var m fsmsg.XattrReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	bp := s.scratch.Get().(*[]byte)
	defer s.scratch.Put(bp)
	buf := (*bp)[:m.Size]
	var n int
	var err error
	if list {
		n, err = s.svc.ListXattr(ctx, m.Caller, m.Ino, buf)
	} else {
		n, err = s.svc.GetXattr(ctx, m.Caller, m.Ino, m.Name, buf)
	}
	if err != nil {
		s.fail(w, req, err)
		return
	}
	if n > fsmsg.XattrValueBytesMax {
		w.Error(syscall.E2BIG)
		return
	}
	r := fsmsg.XattrResp{Size: uint32(n)}
	if m.Size > 0 {
		r.Data = buf[:min(n, len(buf))]
	}
	w.Write(r.Append(nil))
}

func (s *Server) removeXattr(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	var m fsmsg.XattrReq
	if err := m.Decode(req.Payload); err != nil {
		s.badRequest(w, req, err)
		return
	}
	if err := s.svc.RemoveXattr(ctx, m.Caller, m.Ino, m.Name); err != nil {
		s.fail(w, req, err)
	}
}

func (s *Server) statFS(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
	if len(req.Payload) != 0 {
		s.badRequest(w, req, fsmsg.ErrTrailing)
		return
	}
	st, err := s.svc.StatFS(ctx)
	if err != nil {
		s.fail(w, req, err)
		return
	}
	fsmsg.AppendStatFS(w.Grow(fsmsg.StatFSBytes)[:0], &st)
}

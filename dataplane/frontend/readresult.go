package frontend

import (
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// readResult is fuse.ReadResultData without the allocation per read:
// the data already sits in go-fuse's reply buffer (the service read
// into it), so the result only carries the slice, and go-fuse's Done
// returns it to the pool once the reply is built.
type readResult struct {
	b    []byte
	pool *sync.Pool
}

func (r *readResult) Bytes([]byte) ([]byte, fuse.Status) { return r.b, fuse.OK }
func (r *readResult) Size() int                          { return len(r.b) }
func (r *readResult) Done() {
	r.b = nil
	r.pool.Put(r)
}

// newReadResult wraps b in a pooled result.
func (f *fileSystem) newReadResult(b []byte) fuse.ReadResult {
	r := f.results.Get().(*readResult)
	r.b = b
	return r
}

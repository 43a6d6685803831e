package frontend_test

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/internal/testkit/cluster"
)

// TestFullFileSystem: writing past the file system's capacity fails
// with ENOSPC through the mount, and what was written before stays.
func TestFullFileSystem(t *testing.T) {
	const capacity = 16 << 20
	c := cluster.New(t, cluster.Options{CapacityBytes: capacity})
	keep := bytes.Repeat([]byte("kept "), 1000)
	mustWrite(t, filepath.Join(c.Dir, "keep"), keep)
	f, err := os.Create(filepath.Join(c.Dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xab}, 1<<20)
	var werr error
	written := 0
	for i := 0; i < 4*capacity/len(chunk); i++ {
		var n int
		n, werr = f.Write(chunk)
		written += n
		if werr != nil {
			break
		}
	}
	if werr == nil {
		werr = f.Sync()
	}
	wantErrno(t, "write past capacity", werr, syscall.ENOSPC)
	if written > capacity {
		t.Errorf("wrote %d bytes into a %d-byte file system", written, capacity)
	}
	if got := mustRead(t, filepath.Join(c.Dir, "keep")); !bytes.Equal(got, keep) {
		t.Errorf("earlier file damaged by ENOSPC")
	}
	// Freeing space makes room again.
	f.Close()
	if err := os.Remove(filepath.Join(c.Dir, "filler")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(c.Dir, "after"), chunk)
}

package frontend_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/dataplane/frontend"
)

// TestMmap: files on a consistent (direct-IO) mount can still be
// mapped, shared and writable, so executables and mmap-based tools work.
func TestMmap(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "mapped")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	mustWrite(t, p, data)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, len(data), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap shared: %v", err)
	}
	if !bytes.Equal(m, data) {
		t.Fatalf("mapped content differs")
	}
	copy(m[100:], "MAPPED")
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		t.Fatal(err)
	}
	unix.Munmap(m)
	copy(data[100:], "MAPPED")
	if got := mustRead(t, p); !bytes.Equal(got, data) {
		t.Fatalf("write through the mapping not read back")
	}
}

// TestPageCacheMount: the single-client mode (page cache, cached
// attributes) reads back what it wrote, through the cache and after it.
func TestPageCacheMount(t *testing.T) {
	c := newCluster(t)
	m := c.AddMount(t, frontend.Options{PageCache: true, AttrTimeout: 1e9, EntryTimeout: 1e9})
	p := filepath.Join(m.Dir(), "cached")
	data := bytes.Repeat([]byte("page cache "), 50000)
	mustWrite(t, p, data)
	for i := 0; i < 2; i++ { // the second read comes from the page cache
		if got := mustRead(t, p); !bytes.Equal(got, data) {
			t.Fatalf("read %d differs", i)
		}
	}
	if got := mustRead(t, filepath.Join(c.Dir, "cached")); !bytes.Equal(got, data) {
		t.Fatalf("the consistent mount reads other content")
	}
}

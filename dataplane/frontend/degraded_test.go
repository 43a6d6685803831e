package frontend_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/weft-fs/weft/internal/testkit/cluster"
)

// TestTwoDrivesLostWhileMounted: with 3+2 protection, one drive file
// overwritten with garbage and another cut to nothing while mounted,
// every file still reads back identical through the mount (the pool
// reconstructs from the survivors and reports the degraded state).
func TestTwoDrivesLostWhileMounted(t *testing.T) {
	// A small stripe cache so reads after the damage go to the drives.
	c := cluster.New(t, cluster.Options{CacheBytes: 1 << 20})
	const files = 8
	want := make([][]byte, files)
	for i := range want {
		want[i] = make([]byte, 256<<10+i*4099)
		rand.Read(want[i])
		p := filepath.Join(c.Dir, "f"+strconv.Itoa(i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(want[i]); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil { // on the drives, not only in cache
			t.Fatal(err)
		}
		f.Close()
	}
	if err := c.Pool.Flush(); err != nil {
		t.Fatal(err)
	}
	// Drive 1: every byte replaced. Drive 3: gone (empty file).
	garbage, err := os.OpenFile(c.DrivePaths[1], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := garbage.Stat()
	junk := make([]byte, 1<<20)
	for off := int64(0); off < st.Size(); off += int64(len(junk)) {
		rand.Read(junk)
		garbage.WriteAt(junk, off)
	}
	garbage.Close()
	if err := os.Truncate(c.DrivePaths[3], 0); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		got, err := os.ReadFile(filepath.Join(c.Dir, "f"+strconv.Itoa(i)))
		if err != nil {
			t.Fatalf("file %d after losing two drives: %v", i, err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("file %d differs after losing two drives", i)
		}
	}
	h := c.Pool.Health()
	if !h.Degraded {
		t.Errorf("pool does not report the degraded state: %+v", h)
	}
	t.Logf("reconstructed reads %d, chunks %d", h.ReconstructedReads, h.ReconstructedChunk)
}

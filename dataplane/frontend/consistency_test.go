package frontend_test

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/dataplane/frontend"
)

// TestTwoClientsSeeEachOther: two mounts of one file system, each with
// its own frontend and messenger, as two hosts would have. What one
// client wrote and was acknowledged, the other sees at once: the
// frontend caches no attributes, entries or data (see doc.go).
func TestTwoClientsSeeEachOther(t *testing.T) {
	c := newCluster(t)
	a := c.Dir
	b := c.AddMount(t, frontend.Options{}).Dir()
	pa, pb := filepath.Join(a, "f"), filepath.Join(b, "f")

	// Warm B's view (lookup, attributes, data) before A changes things.
	mustWrite(t, pa, []byte("v1"))
	if got := mustRead(t, pb); string(got) != "v1" {
		t.Fatalf("B reads %q, want v1", got)
	}
	fb, err := os.Open(pb)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()

	// A overwrites and grows the file: B's open handle and a fresh
	// stat both see it.
	mustWrite(t, pa, []byte("version two"))
	buf := make([]byte, 64)
	n, _ := fb.ReadAt(buf, 0)
	if string(buf[:n]) != "version two" {
		t.Errorf("B's open handle reads %q after A's write", buf[:n])
	}
	if st := statOf(t, pb); st.Size != int64(len("version two")) {
		t.Errorf("B stats size %d after A's write", st.Size)
	}

	// Appends from both land once each, in order.
	fa, _ := os.OpenFile(pa, os.O_WRONLY|os.O_APPEND, 0)
	fb2, _ := os.OpenFile(pb, os.O_WRONLY|os.O_APPEND, 0)
	for i := 0; i < 10; i++ {
		fa.Write([]byte("A"))
		fb2.Write([]byte("B"))
	}
	fa.Close()
	fb2.Close()
	want := "version two" + string(bytes.Repeat([]byte("AB"), 10))
	if got := mustRead(t, pb); string(got) != want {
		t.Errorf("after appends from both: %q, want %q", got, want)
	}

	// Namespace changes: rename and unlink on A, seen on B.
	if err := os.Rename(pa, filepath.Join(a, "g")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pb); errnoOf(err) != syscall.ENOENT {
		t.Errorf("B stats renamed-away name: %v", err)
	}
	if got := mustRead(t, filepath.Join(b, "g")); string(got) != want {
		t.Errorf("B reads new name: %q", got)
	}
	if err := os.Remove(filepath.Join(a, "g")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b, "g")); errnoOf(err) != syscall.ENOENT {
		t.Errorf("B stats removed file: %v", err)
	}
	// B created it, A sees it.
	if err := os.Mkdir(filepath.Join(b, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if st := statOf(t, filepath.Join(a, "d")); st.Mode&0o777 != 0o700 {
		t.Errorf("A sees mode %o", st.Mode)
	}
	if err := os.Chmod(filepath.Join(a, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if st := statOf(t, filepath.Join(b, "d")); st.Mode&0o777 != 0o755 {
		t.Errorf("B sees mode %o after A's chmod", st.Mode)
	}
}

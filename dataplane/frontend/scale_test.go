package frontend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/dataplane/fs"
)

// bigDirEntries is how many entries TestBigDirectory lists.
const bigDirEntries = 100_000

// bigDirMountEntries of them are made through the mount; the rest by
// the compute role's file system directly (as another client would),
// which keeps the test short: what is under test is the listing.
const bigDirMountEntries = 2_000

// bigDirWorkers create entries in parallel (FUSE serves requests
// concurrently).
const bigDirWorkers = 8

func TestBigDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("lists 100,000 entries")
	}
	c := newCluster(t)
	dir := filepath.Join(c.Dir, "big")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dirAttr, err := c.Service.Lookup(context.Background(), fs.Caller{}, fs.RootIno, "big")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, bigDirWorkers)
	for w := 0; w < bigDirWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < bigDirEntries; i += bigDirWorkers {
				name := "entry-" + strconv.Itoa(i)
				var err error
				if i < bigDirMountEntries {
					// mknod: one lookup and one create, no open/release.
					err = unix.Mknod(filepath.Join(dir, name), unix.S_IFREG|0o644, 0)
				} else {
					_, err = c.Service.Mknod(context.Background(), fs.Caller{}, dirAttr.Ino, name, unix.S_IFREG|0o644, 0)
				}
				if err != nil {
					errs <- fmt.Errorf("mknod %s: %w", name, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, bigDirEntries)
	for _, e := range ents {
		var i int
		if _, err := fmt.Sscanf(e.Name(), "entry-%d", &i); err != nil || i < 0 || i >= bigDirEntries || seen[i] {
			t.Fatalf("unexpected or repeated entry %q", e.Name())
		}
		if e.Type() != 0 {
			t.Fatalf("entry %q: type %v, want regular", e.Name(), e.Type())
		}
		seen[i] = true
	}
	if len(ents) != bigDirEntries {
		t.Fatalf("listed %d entries, want %d", len(ents), bigDirEntries)
	}
}

// Concurrent writer processes: each child writes its own region of one
// shared file, and its own file, then the parent checks every byte.
const (
	writerProcs  = 4
	writerBlocks = 16 // of helperBlockBytes each
)

func TestConcurrentWritersOneFile(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "shared")
	runWriters(t, func(i int) string { return p })
	got := mustRead(t, p)
	if len(got) != writerProcs*writerBlocks*helperBlockBytes {
		t.Fatalf("size %d", len(got))
	}
	for i := 0; i < writerProcs; i++ {
		for b := 0; b < writerBlocks; b++ {
			off := (i*writerBlocks + b) * helperBlockBytes
			if !bytes.Equal(got[off:off+helperBlockBytes], pattern(i, b)) {
				t.Fatalf("writer %d block %d differs", i, b)
			}
		}
	}
}

func TestConcurrentWritersManyFiles(t *testing.T) {
	dir := newMount(t)
	name := func(i int) string { return filepath.Join(dir, "file-"+strconv.Itoa(i)) }
	runWriters(t, name)
	for i := 0; i < writerProcs; i++ {
		got := mustRead(t, name(i))
		// Writer i writes at i*writerBlocks blocks: the file starts with a hole.
		start := i * writerBlocks * helperBlockBytes
		if len(got) != start+writerBlocks*helperBlockBytes || !bytes.Equal(got[:start], make([]byte, start)) {
			t.Fatalf("file %d: size %d or hole not zero", i, len(got))
		}
		for b := 0; b < writerBlocks; b++ {
			off := start + b*helperBlockBytes
			if !bytes.Equal(got[off:off+helperBlockBytes], pattern(i, b)) {
				t.Fatalf("file %d block %d differs", i, b)
			}
		}
	}
}

// runWriters starts writerProcs child processes at once and waits.
func runWriters(t *testing.T, path func(i int) string) {
	t.Helper()
	bin := helperBinary(t)
	cmds := make([]*exec.Cmd, writerProcs)
	outs := make([]*bytes.Buffer, writerProcs)
	for i := range cmds {
		cmds[i] = exec.Command(bin, path(i), strconv.Itoa(i), strconv.Itoa(writerBlocks))
		cmds[i].Env = append(os.Environ(), helperEnv+"=writer")
		outs[i] = new(bytes.Buffer)
		cmds[i].Stdout = outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil || outs[i].String() != "0" {
			t.Errorf("writer %d: %v, errno %q", i, err, outs[i])
		}
	}
}

// fioJob is one fio verify job: written, then read back and checked.
type fioJob struct {
	name, rw, bs, size string
	direct             bool // O_DIRECT: every write durable on return
}

func TestFioVerify(t *testing.T) {
	fio, err := exec.LookPath("fio")
	if err != nil {
		t.Skip("fio not installed (apt-get install fio)")
	}
	dir := newMount(t)
	for _, j := range []fioJob{
		{"seq1m", "write", "1M", "16M", false},
		{"rand4k", "randwrite", "4k", "4M", false},
		{"seq1m-direct", "write", "1M", "8M", true},
		{"rand4k-direct", "randwrite", "4k", "1M", true},
	} {
		t.Run(j.name, func(t *testing.T) {
			direct := "0"
			if j.direct {
				direct = "1"
			}
			out, err := exec.Command(fio, "--name="+j.name, "--directory="+dir,
				"--rw="+j.rw, "--bs="+j.bs, "--size="+j.size, "--numjobs=4", "--direct="+direct,
				"--ioengine=psync", "--verify=crc32c", "--do_verify=1", "--verify_state_save=0",
				"--verify_fatal=1", "--group_reporting=0", "--output-format=json").CombinedOutput()
			if err != nil {
				t.Fatalf("fio: %v\n%s", err, out)
			}
			var res struct {
				Jobs []struct {
					Name  string `json:"jobname"`
					Error int    `json:"error"`
					Write struct {
						IOBytes int64 `json:"io_bytes"`
					} `json:"write"`
					Read struct {
						IOBytes int64 `json:"io_bytes"`
					} `json:"read"`
				} `json:"jobs"`
			}
			js := out[bytes.IndexByte(out, '{'):]
			if err := json.Unmarshal(js, &res); err != nil {
				t.Fatalf("fio output: %v\n%s", err, out)
			}
			if len(res.Jobs) != 4 {
				t.Fatalf("%d jobs reported, want 4", len(res.Jobs))
			}
			for _, jr := range res.Jobs {
				if jr.Error != 0 || jr.Write.IOBytes == 0 || jr.Read.IOBytes != jr.Write.IOBytes {
					t.Errorf("job %s: error %d, wrote %d, verified %d", jr.Name, jr.Error, jr.Write.IOBytes, jr.Read.IOBytes)
				}
			}
			if bytes.Contains(out, []byte("verify:")) || bytes.Contains(out, []byte("bad magic")) {
				t.Errorf("fio reported verify errors:\n%s", out)
			}
		})
	}
}

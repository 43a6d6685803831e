package pool_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/pool"
	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/nvme"
)

// content is file i's deterministic contents.
func content(i int) []byte {
	r := rand.New(rand.NewSource(int64(i)))
	b := make([]byte, 1+(i*7919)%400000)
	r.Read(b)
	return b
}

const (
	crashChildEnv = "WFS_CRASH_CHILD"
	crashStartEnv = "WFS_CRASH_START"
)

// TestMain re-executes the test binary as the crash child when asked.
func TestMain(m *testing.M) {
	if paths := os.Getenv(crashChildEnv); paths != "" {
		crashChild(strings.Split(paths, ","))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild writes file after file, fsyncing each and reporting it on
// stdout, until it is killed.
func crashChild(paths []string) {
	ctx := context.Background()
	p, err := pool.Open(paths, pool.Options{})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	f, err := p.FS("fs")
	if err != nil {
		fmt.Println("error", err)
		return
	}
	start, _ := strconv.Atoi(os.Getenv(crashStartEnv))
	for i := start; ; i++ {
		name := fmt.Sprintf("f%05d", i)
		a, err := f.Mknod(ctx, fs.Caller{}, fs.RootIno, name, syscall.S_IFREG|0o644, 0)
		if err == syscall.EEXIST { // created, not synced, before the last kill
			f.Unlink(ctx, fs.Caller{}, fs.RootIno, name)
			a, err = f.Mknod(ctx, fs.Caller{}, fs.RootIno, name, syscall.S_IFREG|0o644, 0)
		}
		if err != nil {
			fmt.Println("error", err)
			return
		}
		h, _, err := f.Open(ctx, fs.Caller{}, a.Ino, syscall.O_RDWR)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		data := content(i)
		// Several writes per file so the write-back cache merges them.
		for off := 0; off < len(data); off += 50000 {
			end := min(off+50000, len(data))
			if _, _, err := f.Write(ctx, h, a.Ino, int64(off), data[off:end], false); err != nil {
				fmt.Println("error", err)
				return
			}
		}
		// Unsynced churn the crash may or may not keep.
		f.Mkdir(ctx, fs.Caller{}, fs.RootIno, "d"+name, 0o755)
		if i%3 == 0 {
			f.Unlink(ctx, fs.Caller{}, fs.RootIno, fmt.Sprintf("f%05d", i-1))
			f.Rename(ctx, fs.Caller{}, fs.RootIno, "d"+name, fs.RootIno, "r"+name, 0)
		}
		if err := f.Fsync(ctx, h, a.Ino, false); err != nil {
			fmt.Println("error", err)
			return
		}
		f.Release(ctx, h)
		fmt.Println("synced", i)
	}
}

// TestCrashKill9 kills a writer process with SIGKILL in the middle of a
// write/fsync loop; every fsynced file must read back and Check must find
// no damage.
func TestCrashKill9(t *testing.T) {
	paths := testkit.PoolDrives(t, 5, testkit.PoolDriveBytes)
	p, err := pool.Create(paths, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateFS("fs", 512<<20, 3, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	for round := 0; round < 2; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+strings.Join(paths, ","), fmt.Sprintf("%s=%d", crashStartEnv, last+1))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		target := 20
		n := 0
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child: %s", line)
			}
			if v, ok := strings.CutPrefix(line, "synced "); ok {
				last, _ = strconv.Atoi(v)
				if n++; n == target {
					// Let it get into the next file's writes, then kill.
					time.Sleep(3 * time.Millisecond)
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
		}
		cmd.Wait()
		// The killed process's io_uring teardown releases the drive
		// locks asynchronously: wait for them.
		var rep pool.Report
		for try := 0; ; try++ {
			rep, err = pool.Check(paths)
			if !errors.Is(err, nvme.ErrBusy) || try == 100 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("check after kill: %v", err)
		}
		if !rep.Clean() {
			t.Fatalf("check after kill found damage: %d problems: %v", rep.Damage, rep.Problems)
		}
		t.Logf("round %d: last synced file %d; check: %d inodes, %d stripes, %d orphans, %d journal entries",
			round, last, rep.Inodes, rep.Stripes, rep.Orphans, rep.JournalEntries)
		verifySynced(t, paths, last)
	}
}

// verifySynced opens the pool and checks files 0..last (less the ones
// the child unlinked) read back whole.
func verifySynced(t *testing.T, paths []string, last int) {
	t.Helper()
	ctx := context.Background()
	p, err := pool.Open(paths, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f, err := p.FS("fs")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= last; i++ {
		name := fmt.Sprintf("f%05d", i)
		a, err := f.Lookup(ctx, fs.Caller{}, fs.RootIno, name)
		if err == syscall.ENOENT {
			continue // unlinked by the child
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := content(i)
		got := make([]byte, len(want)+1)
		n, err := f.Read(ctx, 0, a.Ino, 0, got)
		if err != nil || n != len(want) || !bytes.Equal(got[:n], want) {
			t.Fatalf("%s: read %d bytes (want %d), err %v, equal %v", name, n, len(want), err, bytes.Equal(got[:n], want))
		}
	}
	// Files synced and not unlinked must exist: the child unlinks f(i-1)
	// while writing f(i) for i%3 == 0 (and "f-1" does not exist).
	for i := 0; i <= last; i++ {
		if (i+1)%3 == 0 {
			continue
		}
		if _, err := f.Lookup(ctx, fs.Caller{}, fs.RootIno, fmt.Sprintf("f%05d", i)); err != nil {
			t.Fatalf("fsynced file f%05d missing after crash: %v", i, err)
		}
	}
}

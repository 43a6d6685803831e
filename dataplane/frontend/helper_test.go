package frontend_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/internal/testkit"
)

// helperEnv makes the test binary act as a child process (a non-root
// user, or one of several concurrent writers) instead of running tests.
const helperEnv = "WFE_FRONTEND_HELPER"

// nobody is the unprivileged user permission tests run children as.
const nobody = 65534

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[len(os.Args)-3:]))
	}
	code := m.Run()
	if helperBin != "" {
		os.RemoveAll(filepath.Dir(helperBin))
	}
	os.Exit(code)
}

// runHelper is the child's side. It prints the errno of the operation
// ("0" for success) so the parent can compare it exactly.
func runHelper(mode string, args []string) int {
	path := args[0]
	var err error
	switch mode {
	case "open-r":
		var f *os.File
		if f, err = os.Open(path); err == nil {
			f.Close()
		}
	case "open-w":
		var f *os.File
		if f, err = os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	case "create":
		var f *os.File
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	case "unlink":
		err = os.Remove(path)
	case "readdir":
		_, err = os.ReadDir(path)
	case "chown":
		err = os.Chown(path, nobody, nobody)
	case "chmod":
		err = os.Chmod(path, 0o777)
	case "stat":
		_, err = os.Stat(path)
	case "writer":
		// writer <path> <index> <blocks>: write blocks of pattern(index)
		// at index*blocks*helperBlockBytes.
		idx, _ := strconv.Atoi(args[1])
		blocks, _ := strconv.Atoi(args[2])
		err = writeRegion(path, idx, blocks)
	default:
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		return 2
	}
	fmt.Print(int(errnoOf(err)))
	return 0
}

// helperBlockBytes is the write size of concurrent writer children.
const helperBlockBytes = 64 << 10

func pattern(idx, block int) []byte {
	b := make([]byte, helperBlockBytes)
	for i := range b {
		b[i] = byte(idx*31 + block*7 + i/512)
	}
	return b
}

func writeRegion(path string, idx, blocks int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for b := 0; b < blocks; b++ {
		off := int64((idx*blocks + b) * helperBlockBytes)
		if _, err := f.WriteAt(pattern(idx, b), off); err != nil {
			return err
		}
	}
	return f.Sync()
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

var (
	helperOnce sync.Once
	helperBin  string
	helperErr  error
)

// helperBinary is a copy of the test binary that an unprivileged user
// may execute (go test builds into a 0700 directory).
func helperBinary(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		var d string
		if d, helperErr = os.MkdirTemp("", "wfe-helper-*"); helperErr != nil {
			return
		}
		os.Chmod(d, 0o755)
		helperBin = filepath.Join(d, "helper.test")
		var src, dst *os.File
		if src, helperErr = os.Open(os.Args[0]); helperErr != nil {
			return
		}
		defer src.Close()
		if dst, helperErr = os.OpenFile(helperBin, os.O_CREATE|os.O_WRONLY, 0o755); helperErr != nil {
			return
		}
		_, helperErr = io.Copy(dst, src)
		dst.Close()
	})
	if helperErr != nil {
		t.Fatalf("helper binary: %v", helperErr)
	}
	return helperBin
}

// runAs runs mode on args as uid/gid in a child process and returns the
// errno it saw.
func runAs(t *testing.T, uid uint32, mode string, args ...string) syscall.Errno {
	t.Helper()
	return runAsGroups(t, uid, nil, mode, args...)
}

// runAsGroups is runAs with supplementary groups.
func runAsGroups(t *testing.T, uid uint32, groups []uint32, mode string, args ...string) syscall.Errno {
	t.Helper()
	for len(args) < 3 {
		args = append(args, "-")
	}
	cmd := exec.Command(helperBinary(t), args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: groups}}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s %v: %v (%s)", mode, args, err, out)
	}
	n, err := strconv.Atoi(string(out))
	if err != nil {
		t.Fatalf("helper %s %v printed %q", mode, args, out)
	}
	return syscall.Errno(n)
}

// wantErrno fails t unless err carries want.
func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if got := errnoOf(err); got != want {
		t.Errorf("%s: got %v (%v), want %v", what, got, err, want)
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func statOf(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

var _ = testkit.RequireFUSE

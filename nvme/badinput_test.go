package nvme_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/weft-fs/weft/internal/testkit"
	. "github.com/weft-fs/weft/nvme" // the tests read as if inside the package
)

func TestTooSmall(t *testing.T) {
	path := testkit.FileDrive(t, DriveBytesMin-BlockSize)
	err := Format(path, FormatOptions{})
	if !errors.Is(err, ErrTooSmall) {
		t.Fatalf("Format of %d bytes: err %v, want ErrTooSmall", DriveBytesMin-BlockSize, err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of blank drive: err %v, want ErrCorrupt", err)
	}
	raw, _ := os.ReadFile(path)
	if !AllZero(raw[:2*BlockSize]) {
		t.Fatal("refused Format wrote to the drive")
	}
}

func TestMisalignedAndOutOfRange(t *testing.T) {
	path := testkit.FileDrive(t, testDriveBytes)
	d := formatOpen(t, path, Options{})
	big := AlignedBuffer(3 * BlockSize)
	n := d.Info().DataBlocks
	cases := []struct {
		name  string
		block uint64
		buf   []byte
		want  error
	}{
		{"unaligned address", 0, big[1 : 1+BlockSize], ErrMisaligned},
		{"partial block", 0, big[:BlockSize+512], ErrMisaligned},
		{"empty", 0, big[:0], ErrMisaligned},
		{"past end", n, big[:BlockSize], ErrOutOfRange},
		{"straddles end", n - 1, big[:2*BlockSize], ErrOutOfRange},
		{"huge block", ^uint64(0), big[:BlockSize], ErrOutOfRange},
		{"too large", 0, AlignedBuffer(RequestBytesMax + BlockSize), ErrTooLarge},
	}
	for _, c := range cases {
		if err := d.WriteBlocks(c.block, c.buf); !errors.Is(err, c.want) {
			t.Errorf("WriteBlocks %s: err %v, want %v", c.name, err, c.want)
		}
		if err := d.ReadBlocks(c.block, c.buf); !errors.Is(err, c.want) {
			t.Errorf("ReadBlocks %s: err %v, want %v", c.name, err, c.want)
		}
		if k, err := d.Submit([]Request{{Op: OpWrite, Block: c.block, Buf: c.buf}}); k != 0 || !errors.Is(err, c.want) {
			t.Errorf("Submit %s: %d, err %v, want %v", c.name, k, err, c.want)
		}
	}
	if err := d.SetAppRoot(make([]byte, AppRootBytesMax+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("SetAppRoot of %d bytes: err %v", AppRootBytesMax+1, err)
	}
}

func TestBusy(t *testing.T) {
	for _, tg := range []struct {
		name string
		make func(t *testing.T) string
	}{targets[0], targets[2]} {
		t.Run(tg.name, func(t *testing.T) {
			path := tg.make(t)
			d := formatOpen(t, path, Options{})
			if _, err := Open(path, Options{}); !errors.Is(err, ErrBusy) {
				t.Fatalf("second Open: err %v, want ErrBusy", err)
			}
			if err := Format(path, FormatOptions{Force: true}); !errors.Is(err, ErrBusy) {
				t.Fatalf("Format of open drive: err %v, want ErrBusy", err)
			}
			d.Close()

			// Another process holds it.
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "WDRV_HOLD="+path)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if strings.TrimSpace(line) != "ready" {
				t.Fatalf("holder process: %q", line)
			}
			_, err := Open(path, Options{})
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("Open while another process holds it: err %v, want ErrBusy", err)
			}
			if !strings.Contains(err.Error(), "nvme.test") {
				t.Errorf("ErrBusy does not name the holder: %v", err)
			}
			t.Log(err)
		})
	}
}

func TestForeign(t *testing.T) {
	path := testkit.FileDrive(t, testDriveBytes)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte("XFSB\x00\x00\x10\x00"), 0) // an XFS superblock's start
	f.Close()
	before, _ := os.ReadFile(path)
	if err := Format(path, FormatOptions{}); !errors.Is(err, ErrForeign) {
		t.Fatalf("Format over XFS: err %v, want ErrForeign", err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrForeign) {
		t.Fatalf("Open of XFS: err %v, want ErrForeign", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("refused Format changed the drive")
	}
	if err := Format(path, FormatOptions{Force: true}); err != nil {
		t.Fatalf("forced Format: %v", err)
	}
	if err := Format(path, FormatOptions{}); !errors.Is(err, ErrFormatted) {
		t.Fatalf("Format of a weft drive: err %v, want ErrFormatted", err)
	}
}

func TestNewerVersion(t *testing.T) {
	path := testkit.FileDrive(t, testDriveBytes)
	if err := Format(path, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	for c := range SuperblockCopies {
		buf := raw[c*BlockSize : (c+1)*BlockSize]
		if err := RewriteVersion(buf, FormatVersion+1); err != nil {
			t.Fatal(err)
		}
		f.WriteAt(buf, int64(c*BlockSize))
	}
	f.Close()
	before, _ := os.ReadFile(path)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("Open of newer format: err %v, want ErrVersion", err)
	}
	if err := Format(path, FormatOptions{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("Format over newer format: err %v, want ErrVersion", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("refused Open/Format changed the drive")
	}
}

func TestReadOnlyDevice(t *testing.T) {
	backing := testkit.FileDrive(t, testDriveBytes)
	if err := Format(backing, FormatOptions{AppRoot: []byte("ro")}); err != nil {
		t.Fatal(err)
	}
	dev, err := testkit.AttachLoop(backing, testkit.LoopOptions{ReadOnly: true})
	if err != nil {
		t.Skip(err)
	}
	defer testkit.DetachLoop(dev)
	if err := Format(dev, FormatOptions{Force: true}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Format of read-only device: err %v, want ErrReadOnly", err)
	}
	if _, err := Open(dev, Options{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Open of read-only device: err %v, want ErrReadOnly", err)
	}
	d, err := Open(dev, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open ReadOnly: %v", err)
	}
	defer d.Close()
	if string(d.AppRoot()) != "ro" {
		t.Fatalf("AppRoot = %q", d.AppRoot())
	}
	buf := AlignedBuffer(BlockSize)
	if err := d.ReadBlocks(0, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := d.WriteBlocks(0, buf); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write: err %v, want ErrReadOnly", err)
	}
	if err := d.SetAppRoot(nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("SetAppRoot: err %v, want ErrReadOnly", err)
	}
}

func TestBadEntriesAndClosed(t *testing.T) {
	path := testkit.FileDrive(t, testDriveBytes)
	if err := Format(path, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []int{-1, 3, 100, RingEntriesMax * 2} {
		if _, err := Open(path, Options{Entries: e}); err == nil || !strings.Contains(err.Error(), "Entries") {
			t.Errorf("Open with Entries %d: err %v, want one naming Entries", e, err)
		}
	}
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	buf := AlignedBuffer(BlockSize)
	if err := d.ReadBlocks(0, buf); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadBlocks after Close: %v", err)
	}
	if _, err := d.Submit([]Request{{Op: OpRead, Buf: buf}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	if n := d.Poll(make([]Completion, 4)); n != 0 {
		t.Errorf("Poll after Close = %d", n)
	}
	if err := d.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

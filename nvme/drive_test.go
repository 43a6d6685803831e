package nvme_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/weft-fs/weft/internal/testkit"
	. "github.com/weft-fs/weft/nvme" // the tests read as if inside the package
)

const testDriveBytes = 64 << 20

// TestMain doubles as a drive holder: with WDRV_HOLD=path the binary opens
// the drive, prints "ready" and keeps it until stdin closes, so tests can
// check exclusivity against another process.
func TestMain(m *testing.M) {
	if path := os.Getenv("WDRV_HOLD"); path != "" {
		d, err := Open(path, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
		d.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// targets are the kinds of drive every data test runs on.
var targets = []struct {
	name string
	make func(t *testing.T) string
}{
	{"file", func(t *testing.T) string { return testkit.FileDrive(t, testDriveBytes) }},
	{"tmpfs", func(t *testing.T) string { return testkit.TmpfsDrive(t, testDriveBytes) }},
	{"loop", func(t *testing.T) string { return testkit.LoopDrive(t, testDriveBytes, testkit.LoopOptions{}) }},
	{"zram", func(t *testing.T) string { return testkit.ZramDrive(t, testDriveBytes) }},
}

func formatOpen(t *testing.T, path string, o Options) *Drive {
	t.Helper()
	if err := Format(path, FormatOptions{AppRoot: []byte("root-0")}); err != nil {
		t.Fatalf("Format: %v", err)
	}
	d, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func randomBlocks(seed uint64, n int) []byte {
	b := AlignedBuffer(n * BlockSize)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func TestReadBack(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			path := tg.make(t)
			d := formatOpen(t, path, Options{})
			info := d.Info()
			if info.BlockSize != BlockSize || info.DataBlocks == 0 {
				t.Fatalf("Info = %+v", info)
			}
			t.Logf("backend %s, %d data blocks", info.Backend, info.DataBlocks)
			// Many goroutines, different sizes, blocks spread over the region.
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 16 {
						n := 1 + (g+i)%64
						blk := uint64(g*1500 + i*80)
						want := randomBlocks(uint64(g*1000+i), n)
						if err := d.WriteBlocks(blk, want); err != nil {
							errs <- err
							return
						}
						got := AlignedBuffer(n * BlockSize)
						if err := d.ReadBlocks(blk, got); err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(got, want) {
							errs <- fmt.Errorf("block %d: read back differs", blk)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			last := info.DataBlocks - 1
			if err := d.WriteBlocks(last, randomBlocks(7, 1)); err != nil {
				t.Fatalf("write last block: %v", err)
			}
			if err := d.SetAppRoot([]byte("root-1")); err != nil {
				t.Fatalf("SetAppRoot: %v", err)
			}
			if err := d.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			d2, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer d2.Close()
			if got := string(d2.AppRoot()); got != "root-1" {
				t.Fatalf("AppRoot after reopen = %q, want root-1", got)
			}
			if d2.Info().Generation != 2 || d2.Info().DriveUUID != info.DriveUUID {
				t.Fatalf("Info after reopen = %+v, before %+v", d2.Info(), info)
			}
			for g := range 8 {
				for i := range 16 {
					n := 1 + (g+i)%64
					blk := uint64(g*1500 + i*80)
					got := AlignedBuffer(n * BlockSize)
					if err := d2.ReadBlocks(blk, got); err != nil {
						t.Fatalf("after reopen: %v", err)
					}
					if !bytes.Equal(got, randomBlocks(uint64(g*1000+i), n)) {
						t.Fatalf("after reopen: block %d differs", blk)
					}
				}
			}
			// A never-written block reads as zeros.
			z := AlignedBuffer(BlockSize)
			if err := d2.ReadBlocks(info.DataBlocks-2, z); err != nil || !AllZero(z) {
				t.Fatalf("never-written block: err %v, zero %v", err, AllZero(z))
			}
		})
	}
}

func TestCorruptByteFlip(t *testing.T) {
	path := testkit.FileDrive(t, testDriveBytes)
	d := formatOpen(t, path, Options{})
	want := randomBlocks(1, 4)
	if err := d.WriteBlocks(100, want); err != nil {
		t.Fatal(err)
	}
	off := DataOffset(d, 102) + 1234
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	f.ReadAt(b, off)
	b[0] ^= 0x40
	f.WriteAt(b, off)
	f.Close()

	d, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := AlignedBuffer(4 * BlockSize)
	err = d.ReadBlocks(100, got)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of flipped block: err %v, want ErrCorrupt", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("block 102")) {
		t.Errorf("error %q does not name block 102", err)
	}
	if !AllZero(got) {
		t.Errorf("corrupt read returned bytes")
	}
	// The good blocks around it still read.
	one := AlignedBuffer(BlockSize)
	if err := d.ReadBlocks(101, one); err != nil || !bytes.Equal(one, want[BlockSize:2*BlockSize]) {
		t.Fatalf("neighbour block: %v", err)
	}
	// A written-but-unflushed block is caught too: data without a checksum.
	d.Close()
	f, _ = os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte("stray"), DataOffset(d, 5000))
	f.Close()
	d, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.ReadBlocks(5000, one); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("block without checksum: err %v, want ErrCorrupt", err)
	}
}

func TestSuperblockRecovery(t *testing.T) {
	for c := range SuperblockCopies {
		for _, damage := range []string{"zeroed", "torn", "garbage"} {
			t.Run(fmt.Sprintf("copy%d-%s", c, damage), func(t *testing.T) {
				path := testkit.FileDrive(t, testDriveBytes)
				d := formatOpen(t, path, Options{})
				data := randomBlocks(3, 2)
				d.WriteBlocks(10, data)
				if err := d.SetAppRoot([]byte("precious")); err != nil {
					t.Fatal(err)
				}
				uuid := d.Info().DriveUUID
				d.Close()

				f, _ := os.OpenFile(path, os.O_RDWR, 0)
				switch damage {
				case "zeroed":
					f.WriteAt(make([]byte, BlockSize), int64(c*BlockSize))
				case "torn": // the second half of the copy is from an older write
					f.WriteAt(bytes.Repeat([]byte{0xAB}, 1024), int64(c*BlockSize+2048))
				case "garbage":
					f.WriteAt(randomBlocks(9, 1), int64(c*BlockSize))
				}
				f.Close()

				d, err := Open(path, Options{})
				if err != nil {
					t.Fatalf("Open with copy %d %s: %v", c, damage, err)
				}
				if string(d.AppRoot()) != "precious" || d.Info().DriveUUID != uuid {
					t.Fatalf("recovered superblock: root %q", d.AppRoot())
				}
				got := AlignedBuffer(2 * BlockSize)
				if err := d.ReadBlocks(10, got); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("data after recovery: %v", err)
				}
				d.Close()
				// Open repaired the damaged copy from the good one.
				raw, _ := os.ReadFile(path)
				root, err := SuperblockAppRoot(raw[c*BlockSize : (c+1)*BlockSize])
				if err != nil || string(root) != "precious" {
					t.Fatalf("copy %d not repaired: %v", c, err)
				}
			})
		}
	}
}

// TestSuperblockGenerations: the higher generation wins when both copies
// are valid, as after a crash between writing copy 0 and copy 1.
func TestSuperblockGenerations(t *testing.T) {
	path := testkit.FileDrive(t, testDriveBytes)
	d := formatOpen(t, path, Options{})
	d.SetAppRoot([]byte("old"))
	d.Close()
	raw, _ := os.ReadFile(path)
	oldCopy1 := append([]byte(nil), raw[BlockSize:2*BlockSize]...)
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.SetAppRoot([]byte("new"))
	d.Close()
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt(oldCopy1, BlockSize) // crash before copy 1 was rewritten
	f.Close()
	d, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if string(d.AppRoot()) != "new" {
		t.Fatalf("AppRoot = %q, want the newer copy's", d.AppRoot())
	}
}

package nvme_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/weft-fs/weft/internal/testkit"
	. "github.com/weft-fs/weft/nvme" // the tests read as if inside the package
)

// TestIOPollRefused: no device here has poll queues, so asking for IOPOLL
// must fall back to interrupts and say why in the log.
func TestIOPollRefused(t *testing.T) {
	for _, tg := range []struct {
		name, why string
		make      func(t *testing.T) string
	}{
		{"file", "regular file", func(t *testing.T) string { return testkit.FileDrive(t, testDriveBytes) }},
		{"loop", "io_poll is 0", func(t *testing.T) string { return testkit.LoopDrive(t, testDriveBytes, testkit.LoopOptions{}) }},
	} {
		t.Run(tg.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			path := tg.make(t)
			if err := Format(path, FormatOptions{}); err != nil {
				t.Fatalf("Format: %v", err)
			}
			d, err := Open(path, Options{Poll: PollIO, Log: log})
			if err == nil {
				d.Close()
				t.Fatalf("Open with PollIO on a %s succeeded (backend %q), want refusal", tg.name, d.Info().Backend)
			}
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tg.why) {
				t.Fatalf("Open with PollIO: %v, want ErrUnsupported saying %q", err, tg.why)
			}
			if !strings.Contains(logs.String(), "IOPOLL refused") || !strings.Contains(logs.String(), tg.why) {
				t.Fatalf("log does not say why IOPOLL was refused (%q):\n%s", tg.why, logs.String())
			}
			// Refused, the drive is untouched and opens without IOPOLL.
			d, err = Open(path, Options{Log: log})
			if err != nil {
				t.Fatalf("Open without PollIO after the refusal: %v", err)
			}
			d.Close()
		})
	}
}

func TestSQPoll(t *testing.T) {
	d := formatOpen(t, testkit.FileDrive(t, testDriveBytes), Options{Poll: PollSQ, Entries: 32})
	if b := d.Info().Backend; b != "io_uring+sqpoll" {
		t.Fatalf("backend %q, want io_uring+sqpoll", b)
	}
	want := randomBlocks(2, 200)
	reqs := make([]Request, 200)
	for i := range reqs {
		reqs[i] = Request{Op: OpWrite, Block: uint64(i), Buf: want[i*BlockSize : (i+1)*BlockSize], Tag: uint64(i)}
	}
	for tag, err := range pump(t, d, reqs) {
		if err != nil {
			t.Fatalf("write %d: %v", tag, err)
		}
	}
	got := AlignedBuffer(200 * BlockSize)
	for i := range reqs {
		reqs[i] = Request{Op: OpRead, Block: uint64(i), Buf: got[i*BlockSize : (i+1)*BlockSize], Tag: uint64(i)}
	}
	for tag, err := range pump(t, d, reqs) {
		if err != nil {
			t.Fatalf("read %d: %v", tag, err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("SQPOLL read back differs")
	}
}

// TestBackendChoice: memory-backed targets get pread/pwrite, the rest io_uring.
func TestBackendChoice(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			d := formatOpen(t, tg.make(t), Options{})
			want := string(BackendURing)
			if tg.name == "tmpfs" || tg.name == "zram" {
				want = string(BackendSync)
			}
			if b := d.Info().Backend; b != want {
				t.Fatalf("backend %q, want %q", b, want)
			}
		})
	}
}

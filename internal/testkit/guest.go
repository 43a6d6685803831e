package testkit

// guest.go boots a QEMU guest that runs one static binary against emulated
// NVMe controllers, for the code paths this host cannot exercise (NVMe poll
// queues, vfio-pci with an IOMMU):
//
//	host                                   guest (TCG, q35 + intel-iommu)
//	go test -c ──► wgu-guest-*/bin         /init (busybox, ci/guest/init)
//	base.cpio.gz ─┐                          insmod vfio stack
//	run cpio.gz ──┴─► initrd ──────────────► /test/run.sh: insmod nvme <params>
//	wgu-guest-*/nvmeN.img ──► -device nvme     exec /test/bin <args>  ──► ttyS1 ──► Output
//	QEMU exit code ◄──────────── isa-debug-exit ◄── verdict (0x10 pass, 0x20 fail)
//
// The kernel and the base initramfs come from ci/guest/prepare.sh, cached under
// ci/cache/guest; the binary and a generated run.sh are appended per run as a
// second gzip cpio, which the kernel unpacks over the first.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Limits and fixed values of the guest rig.
const (
	guestMemoryMiBDefault = 1024             // enough for the test binary and locked DMA buffers
	guestCPUsDefault      = 2                // the host has 2 cores
	guestTimeoutDefault   = 3 * time.Minute  // one boot plus one test under TCG
	guestDisksMax         = 4                // NVMe controllers per guest
	guestDiskSlotFirst    = 3                // first NVMe sits at 0000:00:03.0
	guestDiskSizeDefault  = 64 << 20         // bytes per NVMe namespace unless given
	guestPassCode         = 0x10*2 + 1       // QEMU exit code for verdict 0x10 (pass)
	guestFailCode         = 0x20*2 + 1       // QEMU exit code for verdict 0x20 (fail)
	guestPrefix           = "wgu-guest-"     // owner prefix of temp dirs
	guestPrepareTimeout   = 10 * time.Minute // first download of the kernel package
	guestBootAttempts     = 2                // boots per run when the kernel panics before the binary starts
)

// ErrGuestUnavailable is returned when the guest cannot be booted here: no
// qemu-system-x86_64, or the pinned kernel is not cached and cannot be
// fetched. Tests skip on it.
var ErrGuestUnavailable = errors.New("testkit: QEMU guest unavailable")

// ErrGuestFailed is returned by RunGuest when the guest ran but its binary
// exited non-zero, crashed, or timed out.
var ErrGuestFailed = errors.New("testkit: guest run failed")

// GuestDisk is one emulated NVMe controller with a single namespace backed by
// a raw image file.
type GuestDisk struct {
	// SizeBytes of a fresh image (ignored when Image is set); 0 means 64 MiB.
	SizeBytes int64
	// Image, when set, is an existing raw image used as is (kept after the run).
	Image string
	// Serial is the controller serial number (up to 20 characters).
	Serial string
}

// GuestConfig describes one guest run.
type GuestConfig struct {
	// Binary is a static (CGO_ENABLED=0) linux/amd64 executable on the host.
	Binary string
	// Args are passed to the binary; Env entries ("K=V") are exported before.
	Args []string
	Env  []string
	// Disks are the NVMe controllers, at PCI 0000:00:03.0, 0000:00:04.0, ...
	Disks []GuestDisk
	// NVMeParams, when LoadNVMe is set, are the nvme module parameters
	// ("poll_queues=2"); the run waits for every namespace's block device.
	LoadNVMe   bool
	NVMeParams string
	// MemoryMiB and CPUs of the guest; 0 picks 1024 MiB and 2 CPUs.
	MemoryMiB int
	CPUs      int
	// Timeout of the whole run; 0 means 3 minutes.
	Timeout time.Duration
}

// GuestResult is what a guest run left behind.
type GuestResult struct {
	// Passed is true when the binary exited 0 inside the guest.
	Passed bool
	// ExitCode is QEMU's exit code (33 pass, 65 fail, other: crash).
	ExitCode int
	// Output is the binary's stdout and stderr; Console the kernel log.
	Output  []byte
	Console []byte
	// Elapsed is the wall time from QEMU start to exit.
	Elapsed time.Duration
	// Retries counts boots that panicked before the binary ran and were
	// repeated.
	Retries int
}

// RepoRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testkit: no go.mod above the working directory")
		}
		dir = parent
	}
}

// PrepareGuest makes sure the pinned guest kernel and base initramfs are
// cached (running ci/guest/prepare.sh, which downloads once) and returns the
// cache directory holding vmlinuz and base.cpio.gz.
func PrepareGuest(ctx context.Context) (string, error) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return "", fmt.Errorf("%w: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)", ErrGuestUnavailable)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrGuestUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, guestPrepareTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(root, "ci/guest/prepare.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: ci/guest/prepare.sh: %v: %s", ErrGuestUnavailable, err, lastLines(stderr.Bytes(), 5))
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildGuestTest compiles the tests of the package in pkgDir (a directory or
// import path) into a static binary under dir and returns its path.
func BuildGuestTest(ctx context.Context, pkg, dir string) (string, error) {
	out := filepath.Join(dir, "guest.test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build guest test %s: %v: %s", pkg, err, b)
	}
	return out, nil
}

// BuildGuestProgram compiles the main package pkg into a static binary under
// dir and returns its path.
func BuildGuestProgram(ctx context.Context, pkg, dir string) (string, error) {
	out := filepath.Join(dir, "guest.bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build guest program %s: %v: %s", pkg, err, b)
	}
	return out, nil
}

// RunGuest boots a guest that runs cfg.Binary and returns what it left. The
// error wraps ErrGuestUnavailable when no guest can be booted here and
// ErrGuestFailed when the binary failed, crashed or timed out (the result is
// filled in either way).
func RunGuest(ctx context.Context, cfg GuestConfig) (GuestResult, error) {
	var res GuestResult
	var err error
	for attempt := 0; attempt < guestBootAttempts; attempt++ {
		res, err = runGuestOnce(ctx, cfg)
		res.Retries = attempt
		// A kernel that panicked before /init ran the binary is the
		// emulator's flake (seen once under TCG with -cpu max on a loaded
		// host), not the test's verdict: boot again.
		if err == nil || len(res.Output) > 0 || !bytes.Contains(res.Console, []byte("Kernel panic")) {
			break
		}
	}
	return res, err
}

func runGuestOnce(ctx context.Context, cfg GuestConfig) (GuestResult, error) {
	var res GuestResult
	if len(cfg.Disks) > guestDisksMax {
		return res, fmt.Errorf("guest disks %d: at most %d", len(cfg.Disks), guestDisksMax)
	}
	if cfg.Binary == "" {
		return res, errors.New("guest config: Binary is empty")
	}
	cache, err := PrepareGuest(ctx)
	if err != nil {
		return res, err
	}
	work, err := os.MkdirTemp("", guestPrefix)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)

	initrd := filepath.Join(work, "initrd.gz")
	if err := writeGuestInitrd(initrd, filepath.Join(cache, "base.cpio.gz"), cfg); err != nil {
		return res, fmt.Errorf("guest initrd: %w", err)
	}
	args, err := guestQEMUArgs(cfg, cache, work, initrd)
	if err != nil {
		return res, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = guestTimeoutDefault
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var qemuOut bytes.Buffer
	cmd.Stdout = &qemuOut
	cmd.Stderr = &qemuOut
	start := time.Now()
	runErr := cmd.Run()
	res.Elapsed = time.Since(start)
	res.Output, _ = os.ReadFile(filepath.Join(work, "out.log"))
	res.Console, _ = os.ReadFile(filepath.Join(work, "console.log"))
	res.Console = append(res.Console, qemuOut.Bytes()...)
	if cmd.ProcessState == nil {
		return res, fmt.Errorf("%w: start qemu: %v", ErrGuestUnavailable, runErr)
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: guest did not finish within %v", ErrGuestFailed, timeout)
	case res.ExitCode == guestPassCode:
		res.Passed = true
		return res, nil
	case res.ExitCode == guestFailCode:
		return res, fmt.Errorf("%w: binary exited non-zero in the guest", ErrGuestFailed)
	default:
		return res, fmt.Errorf("%w: qemu exit code %d (%v), guest crashed or never ran the binary: %s",
			ErrGuestFailed, res.ExitCode, runErr, lastLines(res.Console, 5))
	}
}

// GuestTest is RunGuest for tests: it skips t when no guest can be booted
// here, and fails t (with the guest's output) when the run failed.
func GuestTest(t testing.TB, cfg GuestConfig) GuestResult {
	t.Helper()
	res, err := RunGuest(context.Background(), cfg)
	if errors.Is(err, ErrGuestUnavailable) {
		t.Skipf("no QEMU guest: %v", err)
	}
	if err != nil {
		t.Logf("guest output:\n%s", res.Output)
		t.Logf("guest console (tail):\n%s", lastLines(res.Console, 30))
		t.Fatalf("guest run: %v", err)
	}
	return res
}

// GuestTestBinary is the host half's preamble of a guest test: it skips t
// inside the guest itself and under -short (a boot takes seconds), and
// otherwise builds the calling package's tests into a static binary for
// GuestConfig.Binary.
func GuestTestBinary(t testing.TB) string {
	t.Helper()
	if InGuest() {
		t.Skip("already in the guest")
	}
	if testing.Short() {
		t.Skip("boots a QEMU guest")
	}
	bin, err := BuildGuestTest(context.Background(), ".", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// InGuest reports whether this process runs inside a guest booted by RunGuest.
func InGuest() bool { return os.Getenv("WEFT_GUEST") == "1" }

// GuestNVMeDevice returns the PCI address the guest gives cfg.Disks[i].
func GuestNVMeDevice(i int) string {
	return fmt.Sprintf("0000:00:%02x.0", guestDiskSlotFirst+i)
}

func guestQEMUArgs(cfg GuestConfig, cache, work, initrd string) ([]string, error) {
	mem, cpus := cfg.MemoryMiB, cfg.CPUs
	if mem == 0 {
		mem = guestMemoryMiBDefault
	}
	if cpus == 0 {
		cpus = guestCPUsDefault
	}
	args := []string{
		"-machine", "q35,kernel-irqchip=split",
		"-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(mem),
		"-nodefaults", "-nographic", "-no-reboot",
		// The IOMMU must come before the devices it translates for.
		"-device", "intel-iommu,intremap=on,caching-mode=on",
		"-kernel", filepath.Join(cache, "vmlinuz"),
		"-initrd", initrd,
		"-append", "console=ttyS0 quiet intel_iommu=on iommu=pt panic=-1",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-serial", "file:" + filepath.Join(work, "console.log"),
		"-serial", "file:" + filepath.Join(work, "out.log"),
	}
	for i, d := range cfg.Disks {
		img := d.Image
		if img == "" {
			img = filepath.Join(work, fmt.Sprintf("nvme%d.img", i))
			size := d.SizeBytes
			if size == 0 {
				size = guestDiskSizeDefault
			}
			f, err := os.Create(img)
			if err != nil {
				return nil, err
			}
			err = f.Truncate(size)
			f.Close()
			if err != nil {
				return nil, err
			}
		}
		serial := d.Serial
		if serial == "" {
			serial = fmt.Sprintf("wgu%04d", i)
		}
		id := fmt.Sprintf("nvm%d", i)
		args = append(args,
			"-drive", fmt.Sprintf("file=%s,if=none,id=%s,format=raw,cache=writeback", img, id),
			"-device", fmt.Sprintf("nvme,serial=%s,drive=%s,addr=%02x.0", serial, id, guestDiskSlotFirst+i))
	}
	return args, nil
}

// writeGuestInitrd concatenates the base initramfs and a second gzip cpio
// holding /test/bin and /test/run.sh.
func writeGuestInitrd(path, base string, cfg GuestConfig) error {
	baseData, err := os.ReadFile(base)
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(cfg.Binary)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	if _, err := w.Write(baseData); err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	cw := cpioWriter{w: zw}
	cw.dir("test")
	cw.file("test/bin", 0o755, bin)
	cw.file("test/run.sh", 0o755, []byte(guestRunScript(cfg)))
	cw.trailer()
	if cw.err != nil {
		return cw.err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return w.Flush()
}

func guestRunScript(cfg GuestConfig) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\nexport WEFT_GUEST=1\n")
	for _, e := range cfg.Env {
		b.WriteString("export " + shellQuote(e) + "\n")
	}
	if cfg.LoadNVMe {
		fmt.Fprintf(&b, "insmod /lib/modules/nvme.ko %s || exit 1\n", cfg.NVMeParams)
		for i := range cfg.Disks {
			// Controllers probe asynchronously; wait for every namespace.
			fmt.Fprintf(&b, "n=0; while [ ! -b /dev/nvme%dn1 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done\n", i)
		}
	}
	b.WriteString("cd /tmp\nexec /test/bin")
	for _, a := range cfg.Args {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cpioWriter writes a newc ("070701") cpio archive, enough for the few
// entries the guest needs.
type cpioWriter struct {
	w   interface{ Write([]byte) (int, error) }
	ino int
	n   int64
	err error
}

func (c *cpioWriter) dir(name string) { c.entry(name, 0o040755, nil) }

func (c *cpioWriter) file(name string, perm uint32, data []byte) {
	c.entry(name, 0o100000|perm, data)
}

func (c *cpioWriter) trailer() { c.entry("TRAILER!!!", 0, nil) }

func (c *cpioWriter) entry(name string, mode uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
	c.write(data)
	c.pad()
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Limits of the harness.
const (
	agentStartTimeout = 30 * time.Second
	agentStopTimeout  = 90 * time.Second
	commandTimeout    = 2 * time.Minute
	driveBytes        = 256 << 20 // each drive file (sparse)
	drivesDefault     = 5
	prefix            = "wag-e2e-"
)

// binDir holds the binaries TestMain built.
var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		d, err := os.MkdirTemp("", prefix+"bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		for _, c := range []string{"weftd", "weft", "mount.weft"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(d, c), "github.com/weft-fs/weft/cmd/"+c)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n", c, err)
				return 1
			}
		}
		binDir = d
		return m.Run()
	}()
	os.Exit(code)
}

// requireRoot skips t unless weftd can mount FUSE and format drives here.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: weftd mounts FUSE with mount(2)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
}

// agent is one weftd under test with its configuration and drives.
type agent struct {
	t      *testing.T
	dir    string
	conf   string
	drives []string
	cmd    *exec.Cmd
	exited chan error
	log    *os.File
}

// freePorts returns an API port and a data port base with room above it.
func freePorts(t *testing.T) (int, int) {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(30000)
		ok := true
		for _, q := range []int{p, p + 1, p + 2, p + 3} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				ok = false
				break
			}
			l.Close()
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return p, p + 1
		}
	}
	t.Fatal("no free ports")
	return 0, 0
}

// newAgent makes the state directory, drive files and configuration of an
// agent (extra are more service.conf lines) and starts it.
func newAgent(t *testing.T, extra ...string) *agent {
	t.Helper()
	requireRoot(t)
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{t: t, dir: dir, conf: filepath.Join(dir, "service.conf")}
	t.Cleanup(a.cleanup)
	api, data := freePorts(t)
	conf := fmt.Sprintf("state_dir = %s\napi_addr = 127.0.0.1:%d\ndata_port = %d\nnet = udp\nlog_level = debug\n%s\n",
		filepath.Join(dir, "state"), api, data, strings.Join(extra, "\n"))
	if err := os.WriteFile(a.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "drives"), 0o755)
	for i := range drivesDefault {
		p := filepath.Join(dir, "drives", fmt.Sprintf("drive%d.img", i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, driveBytes); err != nil {
			t.Fatal(err)
		}
		a.drives = append(a.drives, p)
	}
	a.start()
	return a
}

// start runs weftd and waits until its API answers.
func (a *agent) start() {
	t := a.t
	t.Helper()
	log, err := os.OpenFile(filepath.Join(a.dir, "weftd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a.log = log
	a.cmd = exec.Command(filepath.Join(binDir, "weftd"), "--config", a.conf)
	a.cmd.Stdout, a.cmd.Stderr = log, log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(a.cmd, a.exited)
	deadline := time.Now().Add(agentStartTimeout)
	for {
		if _, _, err := a.weft("status"); err == nil {
			return
		}
		select {
		case err := <-a.exited:
			a.exited <- err
			t.Fatalf("weftd exited at start: %v\n%s", err, a.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("weftd not answering after %s\n%s", agentStartTimeout, a.logTail())
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (a *agent) stop() error {
	if a.cmd == nil {
		return nil
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.exited:
		a.cmd = nil
		a.log.Close()
		return err
	case <-time.After(agentStopTimeout):
		a.cmd.Process.Kill()
		<-a.exited
		a.cmd = nil
		return fmt.Errorf("weftd did not stop within %s after SIGTERM", agentStopTimeout)
	}
}

// kill9 kills weftd as a crash would.
func (a *agent) kill9() {
	a.cmd.Process.Kill()
	<-a.exited
	a.cmd = nil
	a.log.Close()
}

func (a *agent) cleanup() {
	// Unmount whatever is still mounted under the agent's directory.
	for _, m := range mountsUnder(a.dir) {
		if err := unix.Unmount(m, 0); err != nil {
			unix.Unmount(m, unix.MNT_DETACH)
		}
	}
	if a.cmd != nil {
		if err := a.stop(); err != nil {
			a.t.Errorf("stop weftd: %v", err)
		}
	}
	for _, m := range mountsUnder(a.dir) {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	if a.t.Failed() {
		a.t.Logf("weftd log:\n%s", a.logTail())
	}
	os.RemoveAll(a.dir)
}

func (a *agent) logTail() string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "weftd.log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// run runs one of the built binaries with the agent's configuration.
func (a *agent) run(bin string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, bin), args...)
	cmd.Env = append(os.Environ(), "WEFT_CONFIG="+a.conf)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// weft runs the CLI.
func (a *agent) weft(args ...string) (string, string, error) { return a.run("weft", args...) }

// must runs the CLI and fails the test on an error.
func (a *agent) must(args ...string) string {
	a.t.Helper()
	o, e, err := a.weft(args...)
	if err != nil {
		a.t.Fatalf("weft %s: %v\n%s%s", strings.Join(args, " "), err, o, e)
	}
	return o
}

// weftJSON runs the CLI with -J and decodes its output.
func (a *agent) weftJSON(v any, args ...string) {
	a.t.Helper()
	o := a.must(append([]string{"-J"}, args...)...)
	if err := json.Unmarshal([]byte(o), v); err != nil {
		a.t.Fatalf("weft -J %s: %v\n%s", strings.Join(args, " "), err, o)
	}
}

// setup creates the cluster, adds the drives and creates a file system.
func (a *agent) setup(fsName, capacity, protection string) {
	a.t.Helper()
	a.must("cluster", "create")
	a.must(append([]string{"cluster", "drive", "add"}, a.drives...)...)
	a.must("fs", "create", fsName, "--capacity", capacity, "--protection", protection)
}

// mountDir makes a fresh mount point under the agent's directory.
func (a *agent) mountDir(name string) string {
	d := filepath.Join(a.dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		a.t.Fatal(err)
	}
	return d
}

// mount mounts with mount.weft as mount(8) would run it.
func (a *agent) mount(src, dir, opts string) {
	a.t.Helper()
	args := []string{src, dir}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	if o, e, err := a.run("mount.weft", args...); err != nil {
		a.t.Fatalf("mount.weft %s: %v\n%s%s", strings.Join(args, " "), err, o, e)
	}
}

// mountsUnder lists mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && strings.HasPrefix(f[1], dir+"/") {
			out = append([]string{f[1]}, out...)
		}
	}
	return out
}

// mountLine returns dir's line of /proc/self/mounts, "" if not mounted.
func mountLine(dir string) string {
	b, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[1] == dir {
			return l
		}
	}
	return ""
}

// exitCode returns a command's exit status, -1 if it did not exit.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

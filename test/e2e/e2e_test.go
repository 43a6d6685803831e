package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weft-fs/weft/dataplane/agent/config"
	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/poller"
)

// TestMountWriteRead is the main path: cluster, drives, a 3+2 file
// system, a mount through mount.weft, data written and read back, the
// status and listings as JSON, a clean unmount.
func TestMountWriteRead(t *testing.T) {
	a := newAgent(t)
	a.setup("fs1", "512MiB", "3+2")
	var fss []api.FileSystem
	a.weftJSON(&fss, "fs", "list")
	if len(fss) != 1 || fss[0].Name != "fs1" || fss[0].Protection() != "3+2" || fss[0].CapacityBytes != 512<<20 {
		t.Fatalf("fs list: %+v", fss)
	}
	var drives []api.Drive
	a.weftJSON(&drives, "cluster", "drive", "list")
	if len(drives) != drivesDefault || drives[0].State != "active" {
		t.Fatalf("drive list: %+v", drives)
	}

	mnt := a.mountDir("mnt")
	a.mount("localhost/fs1", mnt, "num_cores=1,noatime")
	line := mountLine(mnt)
	if !strings.Contains(line, "fuse.weft") || !strings.Contains(line, "noatime") || strings.Contains(line, "num_cores") {
		t.Fatalf("mount line %q: want fuse.weft with noatime and without weft's own options", line)
	}
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	p := filepath.Join(mnt, "dir", "file")
	if err := os.Mkdir(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (err %v), want the %d written", len(got), err, len(data))
	}
	var st api.Status
	a.weftJSON(&st, "status")
	if st.Cluster == nil || len(st.Mounts) != 1 || st.Mounts[0].Dir != mnt || st.Raft.State != "Leader" {
		t.Fatalf("status: %+v", st)
	}
	var ms []api.Mount
	a.weftJSON(&ms, "local", "status")
	if len(ms) != 1 || ms[0].FS != "fs1" {
		t.Fatalf("local status: %+v", ms)
	}
	// A read-only mount of the same file system sees the data and refuses
	// writes with EROFS.
	ro := a.mountDir("ro")
	a.mount("localhost/fs1", ro, "ro,nodev")
	if got, err := os.ReadFile(filepath.Join(ro, "dir", "file")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read through the ro mount: %v", err)
	}
	if err := os.WriteFile(filepath.Join(ro, "new"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write on a ro mount: %v, want EROFS", err)
	}
	a.must("local", "umount", ro)
	// A busy mount is refused by a plain unmount, detached by a lazy one.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, e, err := a.weft("local", "umount", mnt); err == nil || !strings.Contains(e, "busy") {
		t.Errorf("umount of a busy mount: %v %q", err, e)
	}
	f.Close()
	a.must("local", "umount", mnt)
	if mountLine(mnt) != "" {
		t.Fatalf("%s still mounted after weft local umount", mnt)
	}
}

// TestMountCommand runs mount(8) itself: `mount -t weft` finds
// /sbin/mount.weft. The helper is made visible in a private mount
// namespace (an overlay on /usr/sbin that only the mount command sees),
// so the host's /sbin is never touched; the FUSE mount itself is made by
// weftd in the host namespace.
func TestMountCommand(t *testing.T) {
	a := newAgent(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare(1)")
	}
	sbin, err := filepath.EvalSymlinks("/sbin")
	if err != nil {
		t.Skip(err)
	}
	a.setup("myfs", "256MiB", "3+2")
	helper := a.mountDir("helper")
	b, err := os.ReadFile(filepath.Join(binDir, "mount.weft"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(helper, "mount.weft"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	work, upper := a.mountDir("ovl-work"), a.mountDir("ovl-upper")
	allowed, _ := poller.AllowedCPUs()
	last := allowed[len(allowed)-1]
	for i, opts := range []string{"num_cores=1", fmt.Sprintf("core=%d,net=udp", last)} {
		mnt := a.mountDir(fmt.Sprintf("mnt%d", i))
		script := fmt.Sprintf("mount -t overlay overlay -o lowerdir=%s:%s,upperdir=%s,workdir=%s %s && mount -t weft localhost/myfs %s -o %s",
			helper, sbin, upper, work, sbin, mnt, opts)
		cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
		cmd.Env = append(os.Environ(), "WEFT_CONFIG="+a.conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			if strings.Contains(string(out), "overlay") {
				t.Skipf("overlay mount in a private namespace refused: %s", out)
			}
			t.Fatalf("mount -t weft -o %s: %v\n%s", opts, err, out)
		}
		if l := mountLine(mnt); !strings.Contains(l, "fuse.weft") || strings.Contains(l, "core=") || strings.Contains(l, "net=") {
			t.Fatalf("-o %s: mount line %q", opts, l)
		}
		if err := os.WriteFile(filepath.Join(mnt, "f"), []byte(opts), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("umount", mnt).Run(); err != nil {
			t.Fatalf("umount %s: %v", mnt, err)
		}
	}
	// Both mounts wrote the same file of the same file system.
	mnt := a.mountDir("check")
	a.mount("localhost/myfs", mnt, "")
	if b, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || !strings.HasPrefix(string(b), "core=") {
		t.Fatalf("file written through the second mount: %q %v", b, err)
	}
}

// TestKill9 kills weftd during a write loop that fsyncs every record,
// restarts it, remounts and finds every fsync'ed record; then the offline
// checker finds the pool clean.
func TestKill9(t *testing.T) {
	a := newAgent(t)
	a.setup("fs1", "512MiB", "3+2")
	mnt := a.mountDir("mnt")
	a.mount("localhost/fs1", mnt, "num_cores=1")
	const recordBytes = 64 << 10
	var synced atomic.Int64
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(filepath.Join(mnt, "log"), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		rec := make([]byte, recordBytes)
		for i := int64(0); ; i++ {
			fillRecord(rec, i)
			if _, err := f.Write(rec); err != nil {
				done <- err
				return
			}
			if err := f.Sync(); err != nil {
				done <- err
				return
			}
			synced.Store(i + 1)
		}
	}()
	// Let the loop make progress, then crash the agent under it.
	for synced.Load() < 40 {
		select {
		case err := <-done:
			t.Fatalf("write loop stopped early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	a.kill9()
	werr := <-done
	n := synced.Load()
	t.Logf("%d records fsync'ed before kill -9; the writer then saw %v", n, werr)
	if werr == nil {
		t.Fatal("write loop ended without an error")
	}

	a.start()
	// The restarted agent detached the dead mount and mounted it again;
	// mounting it once more (fstab, a retried prolog) is a no-op.
	if l := mountLine(mnt); !strings.Contains(l, "fuse.weft") {
		t.Fatalf("mount not restored after restart: %q", l)
	}
	a.mount("localhost/fs1", mnt, "num_cores=1")
	b, err := os.ReadFile(filepath.Join(mnt, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) < n*recordBytes {
		t.Fatalf("file has %d bytes after restart, %d records (%d bytes) were fsync'ed", len(b), n, n*recordBytes)
	}
	rec := make([]byte, recordBytes)
	for i := int64(0); i < n; i++ {
		fillRecord(rec, i)
		if !bytes.Equal(b[i*recordBytes:(i+1)*recordBytes], rec) {
			t.Fatalf("record %d of %d fsync'ed records differs after restart", i, n)
		}
	}
	a.must("local", "umount", mnt)
	if err := a.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	args := []string{"-J", "fsck"}
	for _, d := range a.drives {
		args = append(args, "--drive", d)
	}
	out, e, err := a.weft(args...)
	if err != nil {
		t.Fatalf("weft fsck: %v\n%s%s", err, out, e)
	}
	if !strings.Contains(out, `"clean": true`) {
		t.Fatalf("fsck not clean:\n%s", out)
	}
}

// fillRecord makes record i recognisable: its index, then bytes derived
// from it.
func fillRecord(b []byte, i int64) {
	for j := 0; j < len(b); j += 8 {
		binary.LittleEndian.PutUint64(b[j:], uint64(i)*0x9e3779b97f4a7c15+uint64(j))
	}
}

// TestGracefulStop writes without fsync, stops weftd with SIGTERM (which
// unmounts and writes back the pool), and finds the data after a restart.
func TestGracefulStop(t *testing.T) {
	a := newAgent(t)
	a.setup("fs1", "256MiB", "3+2")
	mnt := a.mountDir("mnt")
	a.mount("localhost/fs1", mnt, "")
	// A mount its user unmounted is not restored at the next start.
	gone := a.mountDir("gone")
	a.mount("localhost/fs1", gone, "")
	if err := exec.Command("umount", gone).Run(); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(mnt, "unsynced"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("SIGTERM: weftd exited with %v\n%s", err, a.logTail())
	}
	if l := mountLine(mnt); l != "" {
		t.Fatalf("mount left behind after SIGTERM: %s", l)
	}
	if !strings.Contains(a.logTail(), "pool written back and closed") {
		t.Fatalf("log does not show the pool closed:\n%s", a.logTail())
	}
	a.start()
	if l := mountLine(mnt); !strings.Contains(l, "fuse.weft") {
		t.Fatalf("mount not restored after a graceful restart: %q", l)
	}
	if l := mountLine(gone); l != "" {
		t.Fatalf("a mount unmounted by its user was restored: %q", l)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "unsynced"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after SIGTERM and restart: %d bytes, %v; want the %d written", len(got), err, len(data))
	}
}

// TestBadInput checks that each bad request fails with an error naming
// the bad value, and that nothing is lost.
func TestBadInput(t *testing.T) {
	a := newAgent(t)
	a.setup("fs1", "256MiB", "3+2")
	mnt := a.mountDir("mnt")
	allowed, err := poller.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	outside := allowed[len(allowed)-1] + 1
	for _, tt := range []struct {
		name, src, opts string
		want            []string
	}{
		{"unknown option", "localhost/fs1", "num_cores=1,bogus", []string{`"bogus"`, "accepted:", "core=", "num_cores="}},
		{"core outside cpuset", "localhost/fs1", fmt.Sprintf("core=%d", outside), []string{fmt.Sprintf("core %d is outside", outside), config.FormatCPUList(allowed)}},
		{"nonexistent fs", "localhost/nope", "", []string{`"nope" does not exist`, "fs1"}},
		{"remote host", "otherhost/fs1", "", []string{`"otherhost"`, "localhost/fs1"}},
		{"no such interface", "localhost/fs1", "net=wagnope0", []string{"net=wagnope0", "no such network interface"}},
		{"bad source", "fs1", "", []string{"<host>/<filesystem>"}},
	} {
		args := []string{tt.src, mnt}
		if tt.opts != "" {
			args = append(args, "-o", tt.opts)
		}
		_, e, err := a.run("mount.weft", args...)
		if err == nil {
			t.Errorf("%s: mount.weft %v succeeded", tt.name, args)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(e, w) {
				t.Errorf("%s: error %q does not contain %q", tt.name, strings.TrimSpace(e), w)
			}
		}
		if l := mountLine(mnt); l != "" {
			t.Fatalf("%s: mounted anyway: %s", tt.name, l)
		}
	}
	// -f checks without mounting; -s drops an unknown option with a warning.
	if o, e, err := a.run("mount.weft", "-f", "-v", "localhost/fs1", mnt, "-o", "num_cores=1"); err != nil || mountLine(mnt) != "" || !strings.Contains(o, "would mount") {
		t.Errorf("mount.weft -f: %v %q %q (mounted: %q)", err, o, e, mountLine(mnt))
	}
	if _, e, err := a.run("mount.weft", "-s", "localhost/fs1", mnt, "-o", "bogus,noatime"); err != nil || !strings.Contains(e, `ignoring unknown option "bogus"`) {
		t.Errorf("mount.weft -s: %v %q", err, e)
	}
	if l := mountLine(mnt); !strings.Contains(l, "noatime") {
		t.Errorf("sloppy mount: %q", l)
	}
	a.must("local", "umount", mnt)
	for _, p := range []string{"2+2", "17+2", "4+3"} {
		_, e, err := a.weft("fs", "create", "bad", "--capacity", "64MiB", "--protection", p)
		if err == nil || !strings.Contains(e, "accepted N+2 or N+4 with 3 <= N <= 16") {
			t.Errorf("protection %s: %v %q", p, err, e)
		}
	}
	// The same checks hold in the API, not only in the CLI.
	tok, _ := os.ReadFile(filepath.Join(a.dir, "state", "token"))
	cfg, _, _ := config.Load(a.conf)
	c := api.NewClient(cfg.APIAddr, strings.TrimSpace(string(tok)))
	if _, err := c.CreateFS(t.Context(), api.CreateFSRequest{Name: "bad", CapacityBytes: 64 << 20, Protection: "17+2"}); !api.IsCode(err, api.CodeInvalid) {
		t.Errorf("API create 17+2: %v", err)
	}
	var fss []api.FileSystem
	a.weftJSON(&fss, "fs", "list")
	if len(fss) != 1 {
		t.Errorf("file systems after bad requests: %+v", fss)
	}
}

// TestFull fills a small file system: writes fail with ENOSPC, what was
// written before stays intact, and deleting frees the space again.
func TestFull(t *testing.T) {
	a := newAgent(t)
	a.setup("small", "48MiB", "3+2")
	mnt := a.mountDir("mnt")
	a.mount("localhost/small", mnt, "")
	keep := make([]byte, 4<<20)
	rand.Read(keep)
	if err := os.WriteFile(filepath.Join(mnt, "keep"), keep, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(mnt, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	var werr error
	for i := 0; i < 1024 && werr == nil; i++ {
		_, werr = f.Write(buf)
		if werr == nil && i%8 == 7 {
			werr = f.Sync()
		}
	}
	if werr == nil {
		werr = f.Sync()
	}
	f.Close()
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("filling a 48 MiB file system: %v, want ENOSPC", werr)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "keep"))
	if err != nil || !bytes.Equal(got, keep) {
		t.Fatalf("file written before the fs filled: %v", err)
	}
	if err := os.Remove(filepath.Join(mnt, "fill")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "after"), buf, 0o644); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
}

// TestAPIToken checks that the API refuses requests without the token,
// and that the token file is readable by its owner only.
func TestAPIToken(t *testing.T) {
	a := newAgent(t)
	st, err := os.Stat(filepath.Join(a.dir, "state", "token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	cfg, _, _ := config.Load(a.conf)
	for _, hdr := range []string{"", "Bearer wrong", "Basic x"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.APIAddr+api.PathStatus, nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %s, want 401", hdr, resp.Status)
		}
	}
	_, e, err := a.weft("--token-file", filepath.Join(a.dir, "service.conf"), "status")
	if err == nil || !strings.Contains(e, "token") {
		t.Errorf("CLI with a wrong token: %v %q", err, e)
	}
	resp, err := http.Get("http://" + cfg.APIAddr + api.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "weft_raft_leader 1") {
		t.Errorf("metrics without weft_raft_leader 1")
	}
}

// TestGracefulStopBusy stops weftd while a file on the mount is open and
// being written: the mount is detached, the writer keeps going until it
// closes the file, and weftd then finishes its stop cleanly with every
// byte written kept.
func TestGracefulStopBusy(t *testing.T) {
	a := newAgent(t)
	a.setup("fs1", "256MiB", "3+2")
	mnt := a.mountDir("mnt")
	a.mount("localhost/fs1", mnt, "")
	f, err := os.Create(filepath.Join(mnt, "open"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 256<<10)
	rand.Read(chunk)
	if _, err := f.Write(chunk); err != nil {
		t.Fatal(err)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	// The agent detaches the busy mount and waits for the file's users.
	deadline := time.Now().Add(agentStartTimeout)
	for mountLine(mnt) != "" {
		if time.Now().After(deadline) {
			t.Fatal("busy mount not detached after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The open file still works: write more, then close it.
	if _, err := f.Write(chunk); err != nil {
		t.Fatalf("write to the open file after SIGTERM: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close after SIGTERM: %v", err)
	}
	select {
	case err := <-a.exited:
		a.cmd = nil
		a.log.Close()
		if err != nil {
			t.Fatalf("weftd exited with %v after a busy stop", err)
		}
	case <-time.After(agentStopTimeout):
		t.Fatal("weftd did not stop after the file was closed")
	}
	a.start()
	a.mount("localhost/fs1", mnt, "")
	got, err := os.ReadFile(filepath.Join(mnt, "open"))
	if err != nil || !bytes.Equal(got, append(append([]byte{}, chunk...), chunk...)) {
		t.Fatalf("after a busy stop and restart: %d bytes, %v; want %d", len(got), err, 2*len(chunk))
	}
}

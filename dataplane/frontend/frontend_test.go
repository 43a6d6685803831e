package frontend

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/weft-fs/weft/dataplane/fs"
)

func TestParseGroups(t *testing.T) {
	cases := []struct {
		name   string
		status string
		want   []uint32
	}{
		{"several", "Name:\tbash\nUid:\t1000\nGroups:\t4 24 27 1000 \nNgid:\t0\n", []uint32{4, 24, 27, 1000}},
		{"none", "Name:\tx\nGroups:\t\nNgid:\t0\n", nil},
		{"missing line", "Name:\tx\n", nil},
		{"last line", "Name:\tx\nGroups:\t5", []uint32{5}},
		{"junk skipped", "Name:\tx\nGroups:\t5 x 6\n", []uint32{5, 6}},
	}
	for _, c := range cases {
		if got := parseGroups([]byte(c.status)); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTimes(t *testing.T) {
	for _, ns := range []int64{0, 1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789, -1, -1_000_000_000, -1_500_000_000} {
		sec, nsec := splitNs(ns)
		if nsec >= 1e9 {
			t.Errorf("%d: nsec %d out of range", ns, nsec)
		}
		if back := joinNs(sec, nsec); back != ns {
			t.Errorf("%d: split %d,%d joins back to %d", ns, int64(sec), nsec, back)
		}
		if got := time.Unix(int64(sec), int64(nsec)).UnixNano(); got != ns {
			t.Errorf("%d: as time.Unix %d", ns, got)
		}
	}
}

func TestInodeTable(t *testing.T) {
	it := newInodeTable()
	it.ref(5, 1)
	it.ref(5, 1)
	it.ref(7, 3)
	if it.count(5) != 2 || it.len() != 2 {
		t.Fatalf("refs: %d, inodes %d", it.count(5), it.len())
	}
	it.forget(5, 1)
	if it.count(5) != 1 {
		t.Fatalf("after forget 1: %d", it.count(5))
	}
	it.forget(5, 1)
	it.forget(7, 10) // more than held: gone, never negative
	if it.len() != 0 {
		t.Fatalf("after forgetting all: %d inodes", it.len())
	}
}

func TestSetAttrIn(t *testing.T) {
	in := fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{
		Valid: fuse.FATTR_MODE | fuse.FATTR_SIZE | fuse.FATTR_FH | fuse.FATTR_ATIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME,
		Mode:  0o104755, Size: 42, Fh: 9, Atime: 1, Mtime: 2, Mtimensec: 3,
	}}
	got := setAttrIn(&in)
	want := fs.SetAttrIn{Valid: fs.SetMode | fs.SetSize | fs.SetAtimeNow | fs.SetMtime, Mode: 0o4755, Size: 42, MtimeNs: 2_000_000_003, Handle: 9}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestPollerConfig(t *testing.T) {
	if _, err := (Options{Core: 0, NumCores: 1}).PollerConfig(); err == nil {
		t.Error("core and num_cores together accepted")
	}
	if _, err := (Options{Core: 4095}).PollerConfig(); err == nil {
		t.Error("core 4095 accepted")
	}
	if _, err := (Options{Core: -1, NumCores: 4096}).PollerConfig(); err == nil {
		t.Error("num_cores 4096 accepted")
	}
	cfg, err := (Options{Core: -1}).PollerConfig()
	if err != nil || len(cfg.Cores) != 0 {
		t.Errorf("no core options: %+v %v", cfg, err)
	}
	cfg, err = (Options{Core: 0}).PollerConfig()
	if err != nil || !slices.Equal(cfg.Cores, []int{0}) {
		t.Errorf("core=0: %+v %v", cfg, err)
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{
		{Core: -1},
		{FSName: "weft:h/a,b", Core: -1},
		{FSName: "weft:h/x", Core: 1, NumCores: 2},
		{FSName: "weft:h/x", Core: -1, AttrTimeout: -time.Second},
	} {
		if err := o.validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestGroupsCache(t *testing.T) {
	var g groupsCache
	pid := uint32(os.Getpid())
	want := groupsOf(pid)
	if got := g.lookup(pid, 1, 2); !slices.Equal(got, want) {
		t.Fatalf("first lookup %v, want %v", got, want)
	}
	// A different uid for the same pid misses the cache.
	g.mu.Lock()
	g.entries[pid] = groupsEntry{uid: 1, gid: 2, groups: []uint32{99}, expires: time.Now().Add(time.Hour)}
	g.mu.Unlock()
	if got := g.lookup(pid, 1, 2); !slices.Equal(got, []uint32{99}) {
		t.Fatalf("cached lookup %v", got)
	}
	if got := g.lookup(pid, 3, 2); !slices.Equal(got, want) {
		t.Fatalf("lookup with another uid %v, want %v", got, want)
	}
}

func BenchmarkGroupsOf(b *testing.B) {
	pid := uint32(os.Getpid())
	for b.Loop() {
		groupsOf(pid)
	}
}

func BenchmarkGroupsCached(b *testing.B) {
	var g groupsCache
	pid := uint32(os.Getpid())
	b.ReportAllocs()
	for b.Loop() {
		g.lookup(pid, 1, 1)
	}
}

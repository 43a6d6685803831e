package poller

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseFormatCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{{"0-1", "0-1"}, {"0,2-4,7", "0,2-4,7"}, {"3", "3"}, {"0-0", "0"}} {
		cpus, err := ParseCPUList(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := FormatCPUList(cpus); got != c.want {
			t.Errorf("%q: formatted %q, want %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"a", "3-1", "-1", "0-99999"} {
		if _, err := ParseCPUList(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCoreOutsideCpusetRefused(t *testing.T) {
	allowed, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	outside := allowed[len(allowed)-1] + 5
	_, err = New(Config{Cores: []int{allowed[0], outside}}, nil)
	if !errors.Is(err, ErrCoreNotAllowed) {
		t.Fatalf("core %d outside %v: got %v", outside, allowed, err)
	}
	want := "core " + itoa(outside) + " is outside this process's cpuset " + FormatCPUList(allowed)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	// The same check with an explicit set, as Slurm would give it.
	err = checkCoresAgainst([]int{7}, []int{0, 1})
	if err == nil || !strings.Contains(err.Error(), "core 7 is outside this process's cpuset 0-1") {
		t.Fatalf("explicit cpuset: %v", err)
	}
	if err := checkCoresAgainst([]int{1, 1}, []int{0, 1}); err == nil {
		t.Fatal("duplicate core accepted")
	}
}

func itoa(i int) string { return FormatCPUList([]int{i}) }

// probe counts polls, reports the CPU it ran on and produces work when
// asked.
type probe struct {
	polls   atomic.Uint64
	pending atomic.Int64
	done    atomic.Uint64
	cpuSeen atomic.Int64
	affOK   atomic.Bool
	core    int
}

func (p *probe) Poll(nowNs int64) int {
	p.polls.Add(1)
	if p.core >= 0 && p.polls.Load() == 1 {
		var set unix.CPUSet
		if unix.SchedGetaffinity(0, &set) == nil {
			p.affOK.Store(set.Count() == 1 && set.IsSet(p.core))
		}
	}
	if n := p.pending.Swap(0); n > 0 {
		p.done.Add(uint64(n))
		return int(n)
	}
	return 0
}

func (p *probe) PollFd() int { return -1 }

func runGroup(t *testing.T, cfg Config, p *probe) *Group {
	t.Helper()
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Register(0, p)
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPinnedModes(t *testing.T) {
	allowed, _ := AllowedCPUs()
	core := allowed[len(allowed)-1]
	for _, mode := range []Mode{Adaptive, Dedicated} {
		t.Run(mode.String(), func(t *testing.T) {
			p := &probe{core: core}
			g := runGroup(t, Config{Cores: []int{core}, Mode: mode}, p)
			waitFor(t, "first poll", func() bool { return p.polls.Load() > 0 })
			if !p.affOK.Load() {
				t.Fatalf("poller not pinned to core %d alone", core)
			}
			p.pending.Store(5)
			g.Wake(0)
			waitFor(t, "work done", func() bool { return p.done.Load() == 5 })
			if mode == Adaptive {
				waitFor(t, "adaptive poller to sleep", func() bool { return g.Stats()[0].Sleeps > 0 })
				// A sleeping poller is woken by Wake, not only by its timeout.
				p.pending.Store(1)
				g.pollers[0].sleeping.Store(true)
				g.Wake(0)
				waitFor(t, "work after wake", func() bool { return p.done.Load() == 6 })
			} else if g.Stats()[0].Sleeps != 0 {
				t.Fatalf("dedicated poller slept")
			}
		})
	}
}

func TestAdaptiveSleepsOnFd(t *testing.T) {
	// An eventfd stands in for a transport: the poller must notice it
	// while asleep, well before SleepMax ends.
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	f := &fdProbe{fd: efd}
	g, err := New(Config{SleepMax: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Register(0, f)
	g.Start(context.Background())
	defer g.Close()
	waitFor(t, "sleep", func() bool { return g.Stats()[0].Sleeps > 0 })
	unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	waitFor(t, "fd work", func() bool { return f.got.Load() > 0 })
}

type fdProbe struct {
	fd  int
	got atomic.Uint64
}

func (f *fdProbe) Poll(int64) int {
	var b [8]byte
	if n, _ := unix.Read(f.fd, b[:]); n == 8 {
		f.got.Add(1)
		return 1
	}
	return 0
}

func (f *fdProbe) PollFd() int { return f.fd }

func TestBadConfig(t *testing.T) {
	if _, err := New(Config{Mode: Mode(9)}, nil); err == nil {
		t.Fatal("bad mode accepted")
	}
	if _, err := New(Config{SleepMax: time.Hour}, nil); err == nil {
		t.Fatal("hour-long sleep accepted")
	}
}

package poller

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Mode selects how a poller waits when it has no work.
type Mode int

const (
	// Adaptive spins briefly after the last work, then sleeps in ppoll(2)
	// on the registered descriptors (CPU-optimized mode, UDP mode).
	Adaptive Mode = iota
	// Dedicated busy-polls and never sleeps (the core belongs to weft).
	Dedicated
)

func (m Mode) String() string {
	if m == Dedicated {
		return "dedicated"
	}
	return "adaptive"
}

// Defaults and limits.
const (
	spinBeforeSleepDefault = 5 * time.Microsecond
	sleepMaxDefault        = 2 * time.Millisecond
	// sleepMaxLimit bounds SleepMax: timers (retransmission, keepalive)
	// are driven by the loop, so the poller must wake this often at least.
	sleepMaxLimit = 100 * time.Millisecond
	// pollFdsMax bounds the descriptors one poller sleeps on.
	pollFdsMax = 64
)

// Config selects cores and mode.
type Config struct {
	// Cores to pin one poller each to. Empty: one unpinned poller.
	Cores []int
	// Mode is Adaptive (default) or Dedicated.
	Mode Mode
	// SpinBeforeSleep is how long an Adaptive poller spins idle before
	// sleeping (0 = 5 µs: sleeping is cheap in the netpoller, and a
	// spinning poller holds a P that handlers and callers need).
	SpinBeforeSleep time.Duration
	// SleepMax is the longest sleep of an Adaptive poller (0 = 2 ms, at
	// most 100 ms).
	SleepMax time.Duration
}

// Pollable is anything a poller drives with non-blocking burst calls.
type Pollable interface {
	// Poll does one burst of work and returns how many items it handled
	// (0 = idle). nowNs is the poller's monotonic clock.
	Poll(nowNs int64) int
	// PollFd is readable when Poll has work, or -1 if there is none to
	// sleep on.
	PollFd() int
}

// MultiPollable is a Pollable with several descriptors to sleep on, such
// as a messenger driving AF_XDP and kernel UDP at once: an Adaptive poller
// must wake for frames on either.
type MultiPollable interface {
	Pollable
	// PollFds appends every descriptor that polls readable when Poll has
	// work (at most pollFdsPerPollableMax are used).
	PollFds(dst []int) []int
}

// pollFdsPerPollableMax bounds the descriptors one MultiPollable adds.
const pollFdsPerPollableMax = 8

// Stats are one poller's loop counters.
type Stats struct {
	Core                int
	Loops, Work, Sleeps uint64
	Wakeups             uint64
	Pollables           int
}

// Group is the set of pollers of one process or role.
type Group struct {
	cfg     Config
	log     *slog.Logger
	pollers []*poller
	clock   time.Time
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	started atomic.Bool
}

type poller struct {
	core     int // -1: unpinned
	g        *Group
	list     atomic.Pointer[[]Pollable]
	mu       sync.Mutex // serialises Register
	eventfd  int
	sleeping atomic.Bool
	loops    atomic.Uint64
	work     atomic.Uint64
	sleeps   atomic.Uint64
	wakeups  atomic.Uint64
	startErr chan error
}

// New validates the configuration (cores against the cpuset) and prepares
// the pollers; Start runs them.
func New(cfg Config, log *slog.Logger) (*Group, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Mode != Adaptive && cfg.Mode != Dedicated {
		return nil, fmt.Errorf("poller mode %d: want Adaptive or Dedicated", cfg.Mode)
	}
	if cfg.SpinBeforeSleep <= 0 {
		cfg.SpinBeforeSleep = spinBeforeSleepDefault
	}
	if cfg.SleepMax <= 0 {
		cfg.SleepMax = sleepMaxDefault
	}
	if cfg.SleepMax > sleepMaxLimit {
		return nil, fmt.Errorf("poller sleep max %v: at most %v (timers ride the loop)", cfg.SleepMax, sleepMaxLimit)
	}
	if len(cfg.Cores) > 0 {
		if err := CheckCores(cfg.Cores); err != nil {
			return nil, fmt.Errorf("poller cores: %w", err)
		}
	}
	g := &Group{cfg: cfg, log: log, clock: time.Now()}
	cores := cfg.Cores
	if len(cores) == 0 {
		cores = []int{-1}
	}
	for _, c := range cores {
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			g.closeFds()
			return nil, fmt.Errorf("poller eventfd: %w", err)
		}
		p := &poller{core: c, g: g, eventfd: fd, startErr: make(chan error, 1)}
		empty := []Pollable{}
		p.list.Store(&empty)
		g.pollers = append(g.pollers, p)
	}
	return g, nil
}

func (g *Group) closeFds() {
	for _, p := range g.pollers {
		if p.eventfd >= 0 {
			unix.Close(p.eventfd)
			p.eventfd = -1
		}
	}
}

// Len is the number of pollers.
func (g *Group) Len() int { return len(g.pollers) }

// Mode is the group's mode.
func (g *Group) Mode() Mode { return g.cfg.Mode }

// NowNs is the group's monotonic clock, the same one Poll receives.
func (g *Group) NowNs() int64 { return int64(time.Since(g.clock)) }

// Register adds p to poller i (any time, also while running).
func (g *Group) Register(i int, p Pollable) {
	pl := g.pollers[i]
	pl.mu.Lock()
	old := *pl.list.Load()
	next := make([]Pollable, len(old), len(old)+1)
	copy(next, old)
	next = append(next, p)
	pl.list.Store(&next)
	pl.mu.Unlock()
	g.Wake(i)
}

// Unregister removes p from poller i.
func (g *Group) Unregister(i int, p Pollable) {
	pl := g.pollers[i]
	pl.mu.Lock()
	old := *pl.list.Load()
	next := make([]Pollable, 0, len(old))
	for _, q := range old {
		if q != p {
			next = append(next, q)
		}
	}
	pl.list.Store(&next)
	pl.mu.Unlock()
	g.Wake(i)
}

// Wake makes poller i run its loop soon: cheap when it is spinning, one
// eventfd write when it sleeps.
func (g *Group) Wake(i int) {
	p := g.pollers[i]
	if p.sleeping.Load() {
		var one = [8]byte{1}
		unix.Write(p.eventfd, one[:])
	}
}

// Start launches the pollers; each one given a core locks its OS thread
// and pins it before it polls. It returns the first pinning error.
func (g *Group) Start(ctx context.Context) error {
	if !g.started.CompareAndSwap(false, true) {
		return fmt.Errorf("poller group already started")
	}
	ctx, g.cancel = context.WithCancel(ctx)
	for _, p := range g.pollers {
		g.wg.Add(1)
		go p.run(ctx)
	}
	for _, p := range g.pollers {
		if err := <-p.startErr; err != nil {
			g.cancel()
			g.wg.Wait()
			return err
		}
	}
	return nil
}

// Close stops the pollers and waits for them.
func (g *Group) Close() error {
	if g.cancel != nil {
		g.cancel()
		for i := range g.pollers {
			g.pollers[i].sleeping.Store(true)
			g.Wake(i)
		}
		g.wg.Wait()
	}
	g.closeFds()
	return nil
}

// Stats returns each poller's counters.
func (g *Group) Stats() []Stats {
	out := make([]Stats, len(g.pollers))
	for i, p := range g.pollers {
		out[i] = Stats{Core: p.core, Loops: p.loops.Load(), Work: p.work.Load(), Sleeps: p.sleeps.Load(),
			Wakeups: p.wakeups.Load(), Pollables: len(*p.list.Load())}
	}
	return out
}

func (p *poller) run(ctx context.Context) {
	defer p.g.wg.Done()
	if p.core >= 0 {
		// The goroutine keeps its thread locked until it exits, so the Go
		// runtime discards the pinned thread instead of reusing it. An
		// unpinned poller stays unlocked: a locked goroutine hands its P
		// to its own thread on every wake-up (a futex wake and a context
		// switch), which is most of a Call's latency on a small machine.
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(p.core)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			p.startErr <- fmt.Errorf("pin poller to core %d: %w", p.core, err)
			return
		}
	}
	p.startErr <- nil
	g := p.g
	// Adaptive pollers sleep in the runtime's netpoller when they can
	// (see sleeper); ppoll(2) is the fallback.
	var sl *sleeper
	if g.cfg.Mode == Adaptive {
		var err error
		if sl, err = newSleeper(p.eventfd); err != nil {
			g.log.Warn("poller sleeps in ppoll", "core", p.core, "reason", err.Error())
			sl = nil
		} else {
			defer sl.close()
		}
	}
	var fds [pollFdsMax + 1]unix.PollFd
	// more escapes (it goes through an interface): allocate it once here,
	// not once per sleep.
	more := make([]int, pollFdsPerPollableMax)
	idleSinceNs := int64(-1)
	for ctx.Err() == nil {
		now := g.NowNs()
		list := *p.list.Load()
		work := 0
		for _, q := range list {
			work += q.Poll(now)
		}
		p.loops.Add(1)
		if work > 0 {
			p.work.Add(uint64(work))
			idleSinceNs = -1
			continue
		}
		if g.cfg.Mode == Dedicated {
			continue
		}
		if idleSinceNs < 0 {
			idleSinceNs = now
		}
		if now-idleSinceNs < int64(g.cfg.SpinBeforeSleep) {
			// Yield while spinning: a caller or worker this pass made
			// runnable waits in this P's run queue (runnext) until the
			// poller lets go of the P, which would otherwise be after
			// the whole spin and the sleep's set-up.
			runtime.Gosched()
			continue
		}
		// Announce the sleep, then look once more so that a Wake racing
		// with us is never lost (it either sees sleeping or we see its work).
		p.sleeping.Store(true)
		for _, q := range list {
			work += q.Poll(g.NowNs())
		}
		if work > 0 || ctx.Err() != nil {
			p.sleeping.Store(false)
			p.work.Add(uint64(work))
			idleSinceNs = -1
			continue
		}
		p.sleeps.Add(1)
		if sl != nil {
			for _, q := range list {
				if mq, ok := q.(MultiPollable); ok {
					for _, fd := range mq.PollFds(more[:0]) {
						if fd >= 0 {
							sl.watch(fd)
						}
					}
					continue
				}
				if fd := q.PollFd(); fd >= 0 {
					sl.watch(fd)
				}
			}
			sl.sleep(g.cfg.SleepMax)
			p.sleeping.Store(false)
			var buf [8]byte
			if n, _ := unix.Read(p.eventfd, buf[:]); n == 8 {
				p.wakeups.Add(1)
			}
		} else {
			n := 0
			fds[n] = unix.PollFd{Fd: int32(p.eventfd), Events: unix.POLLIN}
			n++
			for _, q := range list {
				if fd := q.PollFd(); fd >= 0 && n < len(fds) {
					fds[n] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
					n++
				}
			}
			ts := unix.NsecToTimespec(int64(g.cfg.SleepMax))
			r, _ := unix.Ppoll(fds[:n], &ts, nil)
			p.sleeping.Store(false)
			if r > 0 && fds[0].Revents&unix.POLLIN != 0 {
				var buf [8]byte
				unix.Read(p.eventfd, buf[:])
				p.wakeups.Add(1)
			}
		}
		idleSinceNs = g.NowNs()
		// A short sleep that ended without events still counts as idle,
		// so we go straight back to sleep after the next empty pass.
		idleSinceNs -= int64(g.cfg.SpinBeforeSleep)
	}
}

package poller

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper puts an Adaptive poller to sleep on its descriptors through the
// Go runtime's netpoller: an epoll set holding the poller's eventfd and
// every registered PollFd, itself wrapped in an os.File. Parking in the
// netpoller hands the poller's P to other goroutines at once, where a
// blocking ppoll(2) would hold it until sysmon retakes it — on a machine
// with as many pollers as cores that stalls handlers and callers.
type sleeper struct {
	epfd int
	f    *os.File
	rc   syscall.RawConn
	regs map[int]bool
	evs  [16]unix.EpollEvent
	// checkFn is s.check bound once, so sleeping allocates nothing.
	checkFn func(uintptr) bool
	ready   bool
}

func newSleeper(eventfd int) (*sleeper, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll nonblock: %w", err)
	}
	s := &sleeper{epfd: epfd, f: os.NewFile(uintptr(epfd), "poller-epoll"), regs: map[int]bool{}}
	s.checkFn = s.check
	if s.rc, err = s.f.SyscallConn(); err != nil {
		s.close()
		return nil, err
	}
	// A deadline only works when the runtime polls the file: check now.
	if err := s.f.SetReadDeadline(time.Time{}); err != nil {
		s.close()
		return nil, fmt.Errorf("epoll fd not pollable by the runtime: %w", err)
	}
	if err := s.add(eventfd); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *sleeper) add(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil && err != unix.EEXIST {
		return fmt.Errorf("epoll add fd %d: %w", fd, err)
	}
	s.regs[fd] = true
	return nil
}

// watch makes sure fd is in the set (closed descriptors leave it by
// themselves).
func (s *sleeper) watch(fd int) {
	if !s.regs[fd] {
		s.add(fd)
	}
}

// sleep parks until a descriptor is readable or d passes, and reports
// whether one was readable.
func (s *sleeper) sleep(d time.Duration) bool {
	s.f.SetReadDeadline(time.Now().Add(d))
	s.ready = false
	s.rc.Read(s.checkFn)
	return s.ready
}

// check is the RawConn callback: ready when any watched descriptor is.
func (s *sleeper) check(uintptr) bool {
	n, _ := unix.EpollWait(s.epfd, s.evs[:], 0)
	s.ready = n > 0
	return s.ready
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

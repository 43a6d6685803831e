package nvme

import (
	"fmt"
	"log/slog"
)

// newBackend picks the IO path for t.
func newBackend(t *target, o Options, log *slog.Logger) (backend, error) {
	entries := entriesOf(o)
	if t.vfio != nil {
		return t.vfioBackend(o)
	}
	if o.Poll == PollIO {
		// Asked for polled completion: refuse rather than serve the drive
		// by interrupts (or pread) under a name that promises polling.
		if why := iopollRefusal(t); why != "" {
			log.Warn("nvme: IOPOLL refused", "path", t.path, "reason", why)
			return nil, fmt.Errorf("IOPOLL on %s: %s: %w", t.path, why, ErrUnsupported)
		}
	}
	switch o.Backend {
	case BackendSync:
		return newSyncBackend(t.fd, entries), nil
	case BackendAuto:
		if t.memory || !t.direct {
			log.Info("nvme: memory-backed target, using pread/pwrite", "path", t.path, "memory", t.memory, "direct", t.direct)
			return newSyncBackend(t.fd, entries), nil
		}
		b, err := newURingBackend(t, o, log)
		if err != nil {
			log.Warn("nvme: io_uring unavailable, using pread/pwrite", "path", t.path, "err", err)
			return newSyncBackend(t.fd, entries), nil
		}
		return b, nil
	case BackendURing:
		return newURingBackend(t, o, log)
	}
	return nil, fmt.Errorf("backend %q: want %q, %q or %q: %w", o.Backend, BackendURing, BackendSync, BackendVFIO, ErrUnsupported)
}

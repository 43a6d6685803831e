package frontend

import (
	"fmt"
	"net/netip"

	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/dataplane/poller"
)

// PollerConfig maps the mount's core options to the frontend
// messenger's pollers:
//
//	core=X       one poller pinned to core X, busy polling (Dedicated):
//	             performance mode, the core is the mount's alone
//	num_cores=N  N pollers pinned to the first N cores of this process's
//	             cpuset, sleeping in poll(2) when idle (Adaptive):
//	             CPU-optimized mode
//	neither      one unpinned adaptive poller: the frontend uses CPU
//	             only while IO is in flight
//
// Cores outside the process's cpuset are refused with an error naming
// the core and the set.
func (o Options) PollerConfig() (poller.Config, error) {
	switch {
	case o.Core >= 0 && o.NumCores > 0:
		return poller.Config{}, fmt.Errorf("core=%d and num_cores=%d both given; give one", o.Core, o.NumCores)
	case o.Core >= 0:
		cfg := poller.Config{Cores: []int{o.Core}, Mode: poller.Dedicated}
		if err := poller.CheckCores(cfg.Cores); err != nil {
			return poller.Config{}, fmt.Errorf("core=%d: %w", o.Core, err)
		}
		return cfg, nil
	case o.NumCores > 0:
		allowed, err := poller.AllowedCPUs()
		if err != nil {
			return poller.Config{}, fmt.Errorf("num_cores=%d: %w", o.NumCores, err)
		}
		if o.NumCores > len(allowed) {
			return poller.Config{}, fmt.Errorf("num_cores=%d: this process may use only %d cores (%s)", o.NumCores, len(allowed), poller.FormatCPUList(allowed))
		}
		return poller.Config{Cores: allowed[:o.NumCores], Mode: poller.Adaptive}, nil
	}
	return poller.Config{Mode: poller.Adaptive}, nil
}

// MessengerConfig is the configuration of the messenger the mount's
// fsrpc client talks through, bound at addr (port 0: any free port):
// pollers from PollerConfig and the transport from net= ("udp" or an
// interface name for AF_XDP; the caller sets OpenXDP for the latter).
func (o Options) MessengerConfig(addr netip.AddrPort) (messenger.Config, error) {
	pc, err := o.PollerConfig()
	if err != nil {
		return messenger.Config{}, err
	}
	net := o.Net
	if net == "" {
		net = "udp"
	}
	return messenger.Config{Addr: addr, Net: net, Poller: pc}, nil
}

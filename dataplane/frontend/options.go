package frontend

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Limits of the FUSE session.
const (
	// writeBytesMax is FUSE's MaxWrite (and max_read): one request moves
	// up to 1 MiB, the kernel's limit with the default
	// /proc/sys/fs/fuse/max_pages_limit of 256 pages, and the
	// messenger's largest data message.
	writeBytesMax = 1 << 20
	// backgroundRequestsMax is how many asynchronous requests (reads
	// ahead, direct-IO aio) the kernel keeps in flight to the frontend.
	backgroundRequestsMax = 64
	// fsNameBytesMax bounds the mount source shown in /proc/mounts.
	fsNameBytesMax = 255
	// unmountWait is how long Unmount waits for the kernel to let go of
	// a mount before detaching it lazily and aborting the connection.
	unmountWait = 2 * time.Second
)

// Options says how to mount. The zero value (plus FSName) is a
// strongly consistent mount: no attribute, entry or page caching.
type Options struct {
	// FSName is the mount source shown in /proc/mounts and df:
	// "weft:<host>/<fs>". The file system type is always fuse.weft.
	FSName string

	// Core, NumCores and Net are the mount's weft options (core=,
	// num_cores=, net=) for the messenger the fsrpc client talks
	// through; see MessengerConfig. Core is -1 when not given.
	Core     int
	NumCores int
	Net      string

	// AllowOther lets users other than the mounting one use the mount
	// (a cluster file system is shared by every job on the host).
	AllowOther bool
	// DefaultPermissions makes the kernel check mode bits itself before
	// sending a request. Off by default: the compute role checks every
	// request against the caller's uid, gid and supplementary groups,
	// which saves the kernel's extra getattr per path component that
	// default_permissions with zero attribute timeouts costs.
	DefaultPermissions bool
	// MountFlags are the MS_* flags for mount(2) (ro, noatime, nosuid
	// ...); zero means MS_NOSUID|MS_NODEV.
	MountFlags uintptr

	// AttrTimeout and EntryTimeout let the kernel cache attributes and
	// name lookups. Zero (the default) is the only setting under which a
	// change made through one client is seen at once by every other;
	// give a positive value only for a file system one client uses.
	AttrTimeout  time.Duration
	EntryTimeout time.Duration
	// PageCache lets the kernel cache file data between reads. Off by
	// default (direct IO): the kernel cannot learn that another client
	// wrote, so cached pages could be stale. With one client it buys
	// readahead and cached rereads.
	PageCache bool

	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Debug logs every FUSE request (go-fuse's debug output).
	Debug bool
}

// validate checks the options early, naming the bad value.
func (o *Options) validate() error {
	if o.FSName == "" {
		return fmt.Errorf("frontend: empty file system name, want weft:<host>/<fs>")
	}
	if len(o.FSName) > fsNameBytesMax || strings.ContainsAny(o.FSName, ", \t\n") {
		return fmt.Errorf("frontend: file system name %q: want at most %d bytes without commas or spaces", o.FSName, fsNameBytesMax)
	}
	if o.Core >= 0 && o.NumCores > 0 {
		return fmt.Errorf("frontend: core=%d and num_cores=%d both given; give one", o.Core, o.NumCores)
	}
	if o.AttrTimeout < 0 || o.EntryTimeout < 0 {
		return fmt.Errorf("frontend: negative cache timeout (attr %v, entry %v)", o.AttrTimeout, o.EntryTimeout)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

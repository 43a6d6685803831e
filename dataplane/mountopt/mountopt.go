package mountopt

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Limits on what a mount option string may carry.
const (
	// OptionsBytesMax bounds the whole option string (the kernel's mount
	// data page is 4 KiB; weft's own options never need more).
	OptionsBytesMax = 4096
	// CoreMax is the highest core number accepted syntactically; whether
	// the core is usable is decided against the agent's cpuset.
	CoreMax = 4095
	// NumCoresMax bounds num_cores.
	NumCoresMax = 64
	// NetNameBytesMax is IFNAMSIZ-1, the longest interface name.
	NetNameBytesMax = 15
)

// NetUDP selects in-kernel UDP sockets for the frontend's traffic.
const NetUDP = "udp"

// Errors callers branch on.
var (
	// ErrUnknownOption is returned for an option weft does not know.
	ErrUnknownOption = errors.New("unknown mount option")
	// ErrBadValue is returned for a known option with a malformed value.
	ErrBadValue = errors.New("bad mount option value")
	// ErrConflict is returned for options that exclude each other.
	ErrConflict = errors.New("conflicting mount options")
	// ErrTooLong is returned for an option string over OptionsBytesMax.
	ErrTooLong = errors.New("mount options too long")
)

// Options is a parsed weft mount option string.
type Options struct {
	// Core is the dedicated core for the frontend's busy poller
	// (core=N), or -1 when not given.
	Core int
	// NumCores is the number of non-dedicated cores polled with wake-ups
	// (num_cores=N), or 0 when not given.
	NumCores int
	// Net is "udp" (in-kernel sockets) or an interface name for kernel
	// bypass (net=eth0); empty when not given.
	Net string

	// NetDev records _netdev: the mount needs the network (fstab).
	NetDev bool
	// NoFail records nofail: a failed mount at boot is not an error.
	NoFail bool
	// NoAuto records noauto: not mounted by `mount -a`.
	NoAuto bool
	// User records user/users: a user may mount it (fstab).
	User bool

	// MountFlags are the MS_* flags the kernel mount gets.
	MountFlags uintptr
	// Kernel lists the passed-on options in the order given, for display
	// and for mount data the kernel's FUSE parser understands.
	Kernel []string
	// AllowOther and DefaultPermissions are FUSE's own kernel options.
	AllowOther         bool
	DefaultPermissions bool
}

// DefaultMountFlags are the flags a FUSE mount gets unless suid/dev is
// asked for, as fusermount does.
const DefaultMountFlags = unix.MS_NOSUID | unix.MS_NODEV

// kernelFlag describes one option passed to the kernel as a mount flag.
type kernelFlag struct {
	set, clear uintptr
}

// kernelFlags are the generic VFS options mount(8) turns into MS_* flags.
var kernelFlags = map[string]kernelFlag{
	"ro":          {set: unix.MS_RDONLY},
	"rw":          {clear: unix.MS_RDONLY},
	"noatime":     {set: unix.MS_NOATIME, clear: unix.MS_RELATIME | unix.MS_STRICTATIME},
	"atime":       {clear: unix.MS_NOATIME},
	"relatime":    {set: unix.MS_RELATIME, clear: unix.MS_NOATIME | unix.MS_STRICTATIME},
	"norelatime":  {clear: unix.MS_RELATIME},
	"strictatime": {set: unix.MS_STRICTATIME, clear: unix.MS_NOATIME | unix.MS_RELATIME},
	"nodiratime":  {set: unix.MS_NODIRATIME},
	"diratime":    {clear: unix.MS_NODIRATIME},
	"nosuid":      {set: unix.MS_NOSUID},
	"suid":        {clear: unix.MS_NOSUID},
	"nodev":       {set: unix.MS_NODEV},
	"dev":         {clear: unix.MS_NODEV},
	"noexec":      {set: unix.MS_NOEXEC},
	"exec":        {clear: unix.MS_NOEXEC},
	"sync":        {set: unix.MS_SYNCHRONOUS},
	"async":       {clear: unix.MS_SYNCHRONOUS},
	"dirsync":     {set: unix.MS_DIRSYNC},
	"lazytime":    {set: unix.MS_LAZYTIME},
	"nolazytime":  {clear: unix.MS_LAZYTIME},
	"nosymfollow": {set: unix.MS_NOSYMFOLLOW},
	"silent":      {set: unix.MS_SILENT},
	"loud":        {clear: unix.MS_SILENT},
}

// weftFlags are the value-less options weft consumes and strips.
var weftFlags = []string{"_netdev", "defaults", "auto", "noauto", "nofail", "user", "nouser", "users", "owner", "group"}

// Accepted lists every option name Parse accepts, sorted, for error
// messages and help texts. Valued options carry "=".
func Accepted() []string {
	names := []string{"core=", "num_cores=", "net=", "allow_other", "default_permissions"}
	names = append(names, weftFlags...)
	for k := range kernelFlags {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Parse parses a comma-separated option string. An empty string yields the
// defaults. Options starting with "x-" and "comment=" are fstab
// annotations for other programs and are dropped.
func Parse(s string) (Options, error) {
	o := Options{Core: -1, MountFlags: DefaultMountFlags}
	if len(s) > OptionsBytesMax {
		return o, fmt.Errorf("%w: %d bytes, at most %d accepted", ErrTooLong, len(s), OptionsBytesMax)
	}
	if s == "" {
		return o, nil
	}
	for _, opt := range strings.Split(s, ",") {
		if opt == "" {
			continue
		}
		if err := o.apply(opt); err != nil {
			return Options{Core: -1, MountFlags: DefaultMountFlags}, err
		}
	}
	if o.Core >= 0 && o.NumCores > 0 {
		return Options{Core: -1, MountFlags: DefaultMountFlags}, fmt.Errorf("%w: core=%d selects one dedicated core, num_cores=%d non-dedicated cores; give one of them", ErrConflict, o.Core, o.NumCores)
	}
	return o, nil
}

func (o *Options) apply(opt string) error {
	name, value, valued := strings.Cut(opt, "=")
	if strings.HasPrefix(name, "x-") || name == "comment" {
		return nil
	}
	switch name {
	case "core":
		n, err := parseInt(opt, value, valued, 0, CoreMax)
		if err != nil {
			return err
		}
		o.Core = n
		return nil
	case "num_cores":
		n, err := parseInt(opt, value, valued, 1, NumCoresMax)
		if err != nil {
			return err
		}
		o.NumCores = n
		return nil
	case "net":
		if !valued || !validNet(value) {
			return fmt.Errorf("%w: %q: net= takes \"udp\" or a network interface name of 1 to %d characters", ErrBadValue, opt, NetNameBytesMax)
		}
		o.Net = value
		return nil
	}
	if valued {
		return unknown(opt)
	}
	switch name {
	case "_netdev":
		o.NetDev = true
	case "defaults", "auto":
		// Mount-time meaning only: the defaults are what Parse starts from.
		if name == "auto" {
			o.NoAuto = false
		}
	case "noauto":
		o.NoAuto = true
	case "nofail":
		o.NoFail = true
	case "user", "users", "owner", "group":
		o.User = true
	case "nouser":
		o.User = false
	case "allow_other":
		o.AllowOther = true
		o.Kernel = append(o.Kernel, name)
	case "default_permissions":
		o.DefaultPermissions = true
		o.Kernel = append(o.Kernel, name)
	default:
		f, ok := kernelFlags[name]
		if !ok {
			return unknown(opt)
		}
		o.MountFlags = o.MountFlags&^f.clear | f.set
		o.Kernel = append(o.Kernel, name)
	}
	return nil
}

func unknown(opt string) error {
	return fmt.Errorf("%w %q; accepted: %s", ErrUnknownOption, opt, strings.Join(Accepted(), " "))
}

func parseInt(opt, value string, valued bool, lo, hi int) (int, error) {
	if !valued {
		return 0, fmt.Errorf("%w: %q needs a number from %d to %d", ErrBadValue, opt, lo, hi)
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %q: accepted a number from %d to %d", ErrBadValue, opt, lo, hi)
	}
	return n, nil
}

func validNet(s string) bool {
	if s == "" || len(s) > NetNameBytesMax || s == "." || s == ".." {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c == '/' || c == ':' || c == ',' || c == '=' || c >= 0x7f {
			return false
		}
	}
	return true
}

// ReadOnly reports whether the mount is read-only.
func (o Options) ReadOnly() bool { return o.MountFlags&unix.MS_RDONLY != 0 }

// KernelString is the comma-separated list of passed-on options, what
// /proc/mounts will show besides the FUSE internals.
func (o Options) KernelString() string { return strings.Join(o.Kernel, ",") }

// String renders the options in canonical form; Parse(o.String())
// yields options equal to o's.
func (o Options) String() string {
	var parts []string
	if o.Core >= 0 {
		parts = append(parts, "core="+strconv.Itoa(o.Core))
	}
	if o.NumCores > 0 {
		parts = append(parts, "num_cores="+strconv.Itoa(o.NumCores))
	}
	if o.Net != "" {
		parts = append(parts, "net="+o.Net)
	}
	if o.NetDev {
		parts = append(parts, "_netdev")
	}
	if o.NoFail {
		parts = append(parts, "nofail")
	}
	if o.NoAuto {
		parts = append(parts, "noauto")
	}
	if o.User {
		parts = append(parts, "user")
	}
	parts = append(parts, o.Kernel...)
	return strings.Join(parts, ",")
}

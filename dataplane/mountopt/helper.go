package mountopt

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUsage is returned for a mount helper command line that is not
// "SRC DIR [-sfnvrw] [-o opts] [-t type]".
var ErrUsage = errors.New("usage: mount.weft <host>/<fs> <dir> [-o options] [-s] [-f] [-n] [-v] [-r|-w] [-t weft]")

// HelperArgs is the command line mount(8) gives /sbin/mount.weft.
type HelperArgs struct {
	Source, Dir string
	// Options is the raw -o string (several -o are joined with commas;
	// -r and -w add ro and rw).
	Options string
	Sloppy  bool // -s: drop unknown options with a warning
	Fake    bool // -f: check everything, mount nothing
	NoMtab  bool // -n: nothing to do, mtab is /proc/self/mounts
	Verbose bool // -v
	Type    string
}

// ParseHelperArgs parses the helper's arguments (without argv[0]). mount(8)
// puts SRC and DIR first, but the parser takes options anywhere.
func ParseHelperArgs(args []string) (HelperArgs, error) {
	var h HelperArgs
	var pos, opts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		// Grouped short flags, e.g. -nv or -o opts / -oopts.
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 's':
				h.Sloppy = true
			case 'f':
				h.Fake = true
			case 'n':
				h.NoMtab = true
			case 'v':
				h.Verbose = true
			case 'r':
				opts = append(opts, "ro")
			case 'w':
				opts = append(opts, "rw")
			case 'o', 't', 'N':
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return h, fmt.Errorf("%w: -%c needs a value", ErrUsage, c)
					}
					i++
					v = args[i]
				}
				switch c {
				case 'o':
					opts = append(opts, v)
				case 't':
					h.Type = v
				case 'N':
					return h, fmt.Errorf("%w: -N %s: mounting in another mount namespace is not supported", ErrUsage, v)
				}
				j = len(a)
			default:
				return h, fmt.Errorf("%w: unknown flag -%c", ErrUsage, c)
			}
		}
	}
	if len(pos) != 2 {
		return h, fmt.Errorf("%w: %d positional arguments, want SRC and DIR", ErrUsage, len(pos))
	}
	if h.Type != "" && h.Type != "weft" && !strings.HasPrefix(h.Type, "weft.") {
		return h, fmt.Errorf("%w: -t %s: this helper mounts type weft", ErrUsage, h.Type)
	}
	h.Source, h.Dir = pos[0], pos[1]
	h.Options = strings.Join(opts, ",")
	return h, nil
}

// DropUnknown removes the options Parse would reject as unknown, for
// sloppy mounts (-s); it returns the kept string and the dropped options.
func DropUnknown(s string) (kept string, dropped []string) {
	var keep []string
	for _, opt := range strings.Split(s, ",") {
		if opt == "" {
			continue
		}
		var o Options
		o.Core = -1
		if err := o.apply(opt); errors.Is(err, ErrUnknownOption) {
			dropped = append(dropped, opt)
			continue
		}
		keep = append(keep, opt)
	}
	return strings.Join(keep, ","), dropped
}

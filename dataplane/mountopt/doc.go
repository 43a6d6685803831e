// Package mountopt parses the option string of a weft mount, the "-o" of
// `mount -t weft host/fs /mnt/weft -o core=1,noatime`, and splits it into
// what weft itself uses and what the kernel mount receives.
//
//	"core=1,net=udp,_netdev,noatime,ro"
//	        |
//	      Parse
//	        |
//	 +------+--------------------------+-----------------------------+
//	 | weft's own (stripped)           | kernel (passed on)          |
//	 | Core=1 Net="udp"                | MS_NOATIME|MS_RDONLY        |
//	 | _netdev, defaults, auto, nofail | Kernel=["noatime","ro"]     |
//	 +---------------------------------+-----------------------------+
//
// mount.weft and the agent share this parser so that a mount request is
// checked the same way at both ends; the helper rejects a bad option before
// it ever reaches the agent, and the agent re-checks what it is sent.
package mountopt

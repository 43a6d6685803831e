package mountopt

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in     string
		core   int
		cores  int
		net    string
		flags  uintptr
		kernel string
	}{
		{in: "", core: -1, flags: DefaultMountFlags},
		{in: "num_cores=1", core: -1, cores: 1, flags: DefaultMountFlags},
		{in: "core=1,net=udp", core: 1, net: "udp", flags: DefaultMountFlags},
		{in: "core=0,net=eth0,_netdev,defaults,nofail", core: 0, net: "eth0", flags: DefaultMountFlags},
		{in: "noatime,ro", core: -1, flags: DefaultMountFlags | unix.MS_NOATIME | unix.MS_RDONLY, kernel: "noatime,ro"},
		{in: "ro,rw", core: -1, flags: DefaultMountFlags, kernel: "ro,rw"},
		{in: "suid,dev", core: -1, flags: 0, kernel: "suid,dev"},
		{in: "relatime,noatime", core: -1, flags: DefaultMountFlags | unix.MS_NOATIME, kernel: "relatime,noatime"},
		{in: "x-systemd.automount,comment=foo,auto,user", core: -1, flags: DefaultMountFlags},
		{in: "allow_other,,default_permissions", core: -1, flags: DefaultMountFlags, kernel: "allow_other,default_permissions"},
	}
	for _, tt := range tests {
		o, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if o.Core != tt.core || o.NumCores != tt.cores || o.Net != tt.net || o.MountFlags != tt.flags || o.KernelString() != tt.kernel {
			t.Errorf("Parse(%q) = core %d num_cores %d net %q flags %#x kernel %q; want %d %d %q %#x %q",
				tt.in, o.Core, o.NumCores, o.Net, o.MountFlags, o.KernelString(), tt.core, tt.cores, tt.net, tt.flags, tt.kernel)
		}
	}
}

func TestParseFlagsRecorded(t *testing.T) {
	o, err := Parse("_netdev,nofail,noauto,user")
	if err != nil {
		t.Fatal(err)
	}
	if !o.NetDev || !o.NoFail || !o.NoAuto || !o.User {
		t.Errorf("flags not recorded: %+v", o)
	}
	if o.KernelString() != "" {
		t.Errorf("weft options leaked to the kernel: %q", o.KernelString())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
		name string // the text the message must contain
	}{
		{"bogus", ErrUnknownOption, `"bogus"`},
		{"core=1,frob=2", ErrUnknownOption, `"frob=2"`},
		{"noatime=1", ErrUnknownOption, `"noatime=1"`},
		{"core", ErrBadValue, `"core"`},
		{"core=x", ErrBadValue, `"core=x"`},
		{"core=-1", ErrBadValue, `"core=-1"`},
		{"core=4096", ErrBadValue, `"core=4096"`},
		{"num_cores=0", ErrBadValue, `"num_cores=0"`},
		{"num_cores=65", ErrBadValue, `"num_cores=65"`},
		{"net=", ErrBadValue, `"net="`},
		{"net=a/b", ErrBadValue, `"net=a/b"`},
		{"net=abcdefghijklmnop", ErrBadValue, "net="},
		{"core=1,num_cores=2", ErrConflict, "core=1"},
		{strings.Repeat("ro,", 2000), ErrTooLong, "4096"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("Parse(%.40q) = %v, want %v", tt.in, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.name) {
			t.Errorf("Parse(%.40q) error %q does not name %s", tt.in, err, tt.name)
		}
	}
	_, err := Parse("bogus")
	for _, want := range []string{"core=", "num_cores=", "net=", "_netdev", "noatime"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("unknown-option error %q does not list %q", err, want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, in := range []string{"", "core=3,net=udp,_netdev,ro,noatime", "num_cores=2,nofail,noauto,user,suid,allow_other"} {
		o, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		o2, err := Parse(o.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v", in, err)
		}
		if !reflect.DeepEqual(o, o2) {
			t.Errorf("round trip of %q: %+v != %+v", in, o, o2)
		}
	}
}

func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"", "core=1,net=udp", "num_cores=1", "_netdev,ro,noatime", "x-a,comment=b", "core=1,num_cores=1", "net=,", "core=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := Parse(s)
		if err != nil {
			return
		}
		if o.Core < -1 || o.Core > CoreMax || o.NumCores < 0 || o.NumCores > NumCoresMax {
			t.Fatalf("out of range: %+v", o)
		}
		if o.Core >= 0 && o.NumCores > 0 {
			t.Fatalf("conflict accepted: %q", s)
		}
		for _, k := range o.Kernel {
			if strings.ContainsAny(k, ",=") {
				t.Fatalf("kernel option %q carries a value", k)
			}
		}
		o2, err := Parse(o.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q rejected: %v", o.String(), s, err)
		}
		if !reflect.DeepEqual(o, o2) {
			t.Fatalf("round trip of %q: %+v != %+v", s, o, o2)
		}
	})
}

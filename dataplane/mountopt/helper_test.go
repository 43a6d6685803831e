package mountopt

import (
	"errors"
	"testing"
)

func TestParseHelperArgs(t *testing.T) {
	tests := []struct {
		args []string
		want HelperArgs
	}{
		{[]string{"localhost/myfs", "/mnt/weft", "-o", "num_cores=1"}, HelperArgs{Source: "localhost/myfs", Dir: "/mnt/weft", Options: "num_cores=1"}},
		{[]string{"localhost/myfs", "/mnt/weft", "-o", "core=1,net=udp", "-n", "-v"}, HelperArgs{Source: "localhost/myfs", Dir: "/mnt/weft", Options: "core=1,net=udp", NoMtab: true, Verbose: true}},
		{[]string{"-sfnv", "-onoatime", "h/f", "/d", "-r", "-t", "weft"}, HelperArgs{Source: "h/f", Dir: "/d", Options: "noatime,ro", Sloppy: true, Fake: true, NoMtab: true, Verbose: true, Type: "weft"}},
		{[]string{"h/f", "/d", "-o", "ro", "-o", "_netdev"}, HelperArgs{Source: "h/f", Dir: "/d", Options: "ro,_netdev"}},
	}
	for _, tt := range tests {
		got, err := ParseHelperArgs(tt.args)
		if err != nil || got != tt.want {
			t.Errorf("ParseHelperArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
	for _, bad := range [][]string{{"h/f"}, {"h/f", "/d", "/e"}, {"h/f", "/d", "-o"}, {"h/f", "/d", "-x"}, {"h/f", "/d", "-t", "nfs"}, {"h/f", "/d", "-N", "/proc/1/ns/mnt"}} {
		if _, err := ParseHelperArgs(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("ParseHelperArgs(%q) = %v, want ErrUsage", bad, err)
		}
	}
}

func TestDropUnknown(t *testing.T) {
	kept, dropped := DropUnknown("core=1,bogus,noatime,frob=2")
	if kept != "core=1,noatime" || len(dropped) != 2 {
		t.Errorf("DropUnknown = %q %q", kept, dropped)
	}
}

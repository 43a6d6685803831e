package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `# weft agent
cores = 0-1,3   # roles' cores
isolate_cpusets = false
state_dir = /tmp/wag-state/
api_addr = 127.0.0.1:15000
data_port=15001
net = udp
poll_mode = dedicated

log_level = debug
`
	c, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Cores: []int{0, 1, 3}, StateDir: "/tmp/wag-state", APIAddr: "127.0.0.1:15000", DataPort: 15001, Net: "udp", PollMode: "dedicated", LogLevel: "debug"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse = %+v, want %+v", c, want)
	}
	if c.TokenPath() != "/tmp/wag-state/token" {
		t.Errorf("TokenPath = %s", c.TokenPath())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"frob = 1", `unknown key "frob"`},
		{"cores", `line 1: "cores" is not "key = value"`},
		{"cores = 1\ncores = 2", `key "cores" already set on line 1`},
		{"cores = 3-1", "range"},
		{"cores = x", "not a CPU number"},
		{"isolate_cpusets = maybe", "not a boolean"},
		{"state_dir = relative", "not an absolute path"},
		{"api_addr = 10.0.0.1:80", "not a loopback address"},
		{"api_addr = localhost", "not an ip:port"},
		{"data_port = 70000", "not a port"},
		{"net = a/b", "interface name"},
		{"poll_mode = busy", "accepted dedicated or adaptive"},
		{"log_level = loud", "accepted debug"},
		{strings.Repeat("x", 5000), "at most 4096 bytes"},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.in))
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Parse(%.30q) = %v, want ErrSyntax containing %q", tt.in, err, tt.msg)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	c, found, err := Load(filepath.Join(t.TempDir(), "nope.conf"))
	if err != nil || found || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load(missing) = %+v %v %v", c, found, err)
	}
}

func TestLoadExample(t *testing.T) {
	// The shipped example must parse as-is.
	p := filepath.Join("..", "..", "..", "deploy", "service.conf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no example at %s: %v", p, err)
	}
	if _, found, err := Load(p); err != nil || !found {
		t.Errorf("Load(%s) = %v %v", p, found, err)
	}
}

func TestCPUList(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "0-3,6": "0-3,6", "3,2,1,0": "0-3", "1,1,2,5-6,8": "1-2,5-6,8"} {
		cpus, err := ParseCPUList(in)
		if err != nil {
			t.Fatalf("ParseCPUList(%q): %v", in, err)
		}
		if got := FormatCPUList(cpus); got != want {
			t.Errorf("FormatCPUList(ParseCPUList(%q)) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("cores = 0-1\nnet = udp\n")
	f.Add("# only a comment\n\n")
	f.Add("state_dir = /x\napi_addr = 127.0.0.1:1")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		if c.DataPort < 1 || c.DataPort > 65535 || c.StateDir == "" {
			t.Fatalf("accepted invalid config %+v from %q", c, s)
		}
	})
}

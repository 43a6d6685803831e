package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DefaultPath is where the agent's configuration lives.
const DefaultPath = "/etc/weft/service.conf"

// EnvPath names the environment variable that overrides DefaultPath for
// every weft program (tests and side-by-side agents use it).
const EnvPath = "WEFT_CONFIG"

// Defaults of the keys.
const (
	DefaultStateDir = "/var/lib/weft"
	DefaultAPIAddr  = "127.0.0.1:14000"
	DefaultDataPort = 14001
	DefaultNet      = "udp"
	DefaultLogLevel = "info"
)

// Limits of the file.
const (
	fileBytesMax = 64 << 10 // a service.conf is a screenful; refuse anything huge
	lineBytesMax = 4096
	coresMax     = 4096 // highest CPU number a cores list may name, plus one
)

// TokenFile is the name of the API token file inside the state directory.
const TokenFile = "token"

// ErrSyntax is returned for a malformed line or value.
var ErrSyntax = errors.New("service.conf")

// Config is the agent's configuration.
type Config struct {
	// Cores the agent's roles run on; empty means every core of the
	// cpuset the agent was started in. Each must lie inside that cpuset.
	Cores []int
	// IsolateCpusets allows the agent to rewrite cgroup cpusets so that
	// its dedicated cores are taken from other processes. False (the
	// default) means the agent never touches a cpuset and only chooses
	// cores inside the one it was given (Slurm's CpuSpecList).
	IsolateCpusets bool
	// StateDir holds the management role's raft log and snapshots and
	// the API token.
	StateDir string
	// APIAddr is the management REST API's listen address (loopback).
	APIAddr string
	// DataPort is the UDP port of the first file system's compute
	// messenger; the k-th served file system listens on DataPort+k.
	DataPort int
	// Net is the default transport for the data path: "udp" or an
	// interface name for AF_XDP.
	Net string
	// PollMode of the backend pollers: "dedicated" (busy polling) or
	// "adaptive" (poll with wake-ups).
	PollMode string
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

// Default returns the configuration used when service.conf is absent.
func Default() Config {
	return Config{
		StateDir: DefaultStateDir,
		APIAddr:  DefaultAPIAddr,
		DataPort: DefaultDataPort,
		Net:      DefaultNet,
		PollMode: "adaptive",
		LogLevel: DefaultLogLevel,
	}
}

// key describes one accepted key.
type key struct {
	help string
	set  func(c *Config, v string) error
}

var keys = map[string]key{
	"cores": {"cores the roles may use, a CPU list like 0-3,6 (default: the whole allowed cpuset)", func(c *Config, v string) error {
		if v == "" || v == "all" {
			c.Cores = nil
			return nil
		}
		cpus, err := ParseCPUList(v)
		c.Cores = cpus
		return err
	}},
	"isolate_cpusets": {"false (default): never write a cgroup cpuset, only choose cores inside the one given; true is refused by this version", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not a boolean: accepted true or false", v)
		}
		c.IsolateCpusets = b
		return nil
	}},
	"state_dir": {"directory for the raft log, snapshots and the API token", func(c *Config, v string) error {
		if !filepath.IsAbs(v) {
			return fmt.Errorf("%q is not an absolute path", v)
		}
		c.StateDir = filepath.Clean(v)
		return nil
	}},
	"api_addr": {"listen address of the management REST API, host:port on loopback", func(c *Config, v string) error {
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			return fmt.Errorf("%q is not an ip:port address", v)
		}
		if !ap.Addr().IsLoopback() {
			return fmt.Errorf("%q is not a loopback address: the API listens on localhost only", v)
		}
		c.APIAddr = v
		return nil
	}},
	"data_port": {"UDP port of the first file system's compute messenger; file system k listens on data_port+k", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q is not a port: accepted 1 to 65535", v)
		}
		c.DataPort = n
		return nil
	}},
	"net": {`default transport of mounts: "udp" or a network interface name (AF_XDP)`, func(c *Config, v string) error {
		if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t:,=") {
			return fmt.Errorf("%q is neither \"udp\" nor an interface name", v)
		}
		c.Net = v
		return nil
	}},
	"poll_mode": {"backend pollers: dedicated (busy polling) or adaptive (wake-ups)", func(c *Config, v string) error {
		if v != "dedicated" && v != "adaptive" {
			return fmt.Errorf("%q: accepted dedicated or adaptive", v)
		}
		c.PollMode = v
		return nil
	}},
	"log_level": {"debug, info, warn or error", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("%q: accepted debug, info, warn or error", v)
	}},
}

// Keys lists the accepted keys, sorted.
func Keys() []string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// KeyHelp describes a key, "" if it is not one.
func KeyHelp(name string) string { return keys[name].help }

// Set sets one key from its text value, as a line of the file or a flag.
func (c *Config) Set(name, value string) error {
	k, ok := keys[name]
	if !ok {
		return fmt.Errorf("%w: unknown key %q; accepted: %s", ErrSyntax, name, strings.Join(Keys(), ", "))
	}
	if err := k.set(c, value); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSyntax, name, err)
	}
	return nil
}

// Parse reads a service.conf from r on top of the defaults.
func Parse(r io.Reader) (Config, error) {
	c := Default()
	sc := bufio.NewScanner(io.LimitReader(r, fileBytesMax+1))
	sc.Buffer(make([]byte, lineBytesMax), lineBytesMax)
	seen := map[string]int{}
	total := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		total += len(line) + 1
		if total > fileBytesMax {
			return c, fmt.Errorf("%w: file over %d bytes", ErrSyntax, fileBytesMax)
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return c, fmt.Errorf("%w: line %d: %q is not \"key = value\"", ErrSyntax, n, line)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if prev, dup := seen[name]; dup {
			return c, fmt.Errorf("%w: line %d: key %q already set on line %d", ErrSyntax, n, name, prev)
		}
		seen[name] = n
		if err := c.Set(name, value); err != nil {
			return c, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("%w: %w (lines are at most %d bytes)", ErrSyntax, err, lineBytesMax)
	}
	return c, nil
}

// Load reads the file at path; a missing file yields the defaults with
// found=false so the caller can say so.
func Load(path string) (c Config, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Default(), false, nil
	}
	if err != nil {
		return Default(), false, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	c, err = Parse(f)
	if err != nil {
		return c, true, fmt.Errorf("%s: %w", path, err)
	}
	return c, true, nil
}

// Path returns the configuration path: $WEFT_CONFIG if set, else
// DefaultPath.
func Path() string {
	if p := os.Getenv(EnvPath); p != "" {
		return p
	}
	return DefaultPath
}

// TokenPath is the API token file of this configuration.
func (c *Config) TokenPath() string { return filepath.Join(c.StateDir, TokenFile) }

// ParseCPUList parses a Linux CPU list ("0-3,6,8-9") into sorted,
// deduplicated CPU numbers.
func ParseCPUList(s string) ([]int, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 || a >= coresMax {
			return nil, fmt.Errorf("cpu list %q: %q is not a CPU number 0 to %d", s, lo, coresMax-1)
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || b < a || b >= coresMax {
				return nil, fmt.Errorf("cpu list %q: range %q is not low-high with low <= high < %d", s, part, coresMax)
			}
		}
		for i := a; i <= b; i++ {
			set[i] = true
		}
	}
	cpus := make([]int, 0, len(set))
	for c := range set {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	return cpus, nil
}

// FormatCPUList renders CPU numbers as a Linux CPU list ("0-3,6").
func FormatCPUList(cpus []int) string {
	s := append([]int(nil), cpus...)
	sort.Ints(s)
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] <= s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s[i]))
		if s[j] != s[i] {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s[j]))
		}
		i = j + 1
	}
	return b.String()
}

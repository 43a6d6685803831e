package api

import (
	"errors"
	"strings"
	"testing"
)

func TestParseProtection(t *testing.T) {
	for _, ok := range []string{"3+2", "16+2", "3+4", "16+4", " 8+2 "} {
		if _, err := ParseProtection(ok); err != nil {
			t.Errorf("ParseProtection(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"2+2", "17+2", "3+3", "3+1", "4+0", "x", "3+", "+2", "3-2", ""} {
		_, err := ParseProtection(bad)
		if !errors.Is(err, ErrProtection) || !strings.Contains(err.Error(), "accepted N+2 or N+4") {
			t.Errorf("ParseProtection(%q) = %v", bad, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"4096": 4096, "10GiB": 10 << 30, "1.5KiB": 1536, "2G": 2 << 30, "1GB": 1e9, "7 MiB": 7 << 20, "0": 0} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1", "1XiB", "1e30PiB", "NaN"} {
		if _, err := ParseSize(bad); !errors.Is(err, ErrSize) {
			t.Errorf("ParseSize(%q) = %v", bad, err)
		}
	}
	if s := FormatSize(10 << 30); s != "10 GiB" {
		t.Errorf("FormatSize = %q", s)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"10GiB", "1.5T", "0", "1e3KB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseSize(s)
		_, _ = ParseProtection(s)
	})
}

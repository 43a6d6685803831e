package api

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Protection limits: N+P erasure coding with P in {2, 4} and
// ProtectionDataMin <= N <= ProtectionDataMax.
const (
	ProtectionDataMin = 3
	ProtectionDataMax = 16
)

// ErrProtection is returned for a protection scheme out of range.
var ErrProtection = errors.New("protection out of range")

// ErrSize is returned for a malformed size.
var ErrSize = errors.New("bad size")

// Protection is an erasure-coding scheme: Data data shards plus Parity
// parity shards per stripe.
type Protection struct {
	Data, Parity int
}

// String renders the scheme as "N+P".
func (p Protection) String() string { return fmt.Sprintf("%d+%d", p.Data, p.Parity) }

// Drives is the number of drives a stripe spans.
func (p Protection) Drives() int { return p.Data + p.Parity }

// ParseProtection parses "N+P", accepting N+2 or N+4 with 3 <= N <= 16.
func ParseProtection(s string) (Protection, error) {
	accepted := fmt.Sprintf("accepted N+2 or N+4 with %d <= N <= %d", ProtectionDataMin, ProtectionDataMax)
	a, b, ok := strings.Cut(strings.TrimSpace(s), "+")
	n, err1 := strconv.Atoi(a)
	p, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Protection{}, fmt.Errorf("%w: %q is not N+P; %s", ErrProtection, s, accepted)
	}
	if n < ProtectionDataMin || n > ProtectionDataMax || (p != 2 && p != 4) {
		return Protection{}, fmt.Errorf("%w: %d+%d; %s", ErrProtection, n, p, accepted)
	}
	return Protection{n, p}, nil
}

var sizeUnits = []struct {
	suffix string
	mult   uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"P", 1 << 50},
	{"B", 1},
}

// ParseSize parses a byte count with an optional unit: "4096", "10GiB",
// "1.5TB", "512M" (single letters are binary, as in dd and fio).
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f*float64(mult) >= math.MaxUint64/2 {
		return 0, fmt.Errorf("%w: %q; accepted a number with an optional unit B, KiB, MiB, GiB, TiB, PiB, KB, MB, GB, TB, PB", ErrSize, s)
	}
	return uint64(f * float64(mult)), nil
}

// FormatSize renders a byte count with a binary unit ("10 GiB").
func FormatSize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f %s", f, units[i])
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

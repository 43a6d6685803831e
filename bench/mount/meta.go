package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// metaOps are the metadata workloads, in the order they run.
var metaOps = []string{"create", "stat", "unlink"}

// runMeta creates n empty files in dir, stats each, unlinks each, and
// returns operations per second of each phase. Caches are dropped between
// phases so stat goes to the file system, not the kernel's dentry cache
// (on FUSE mounts with zero timeouts it always does).
func runMeta(dir string, n int) (map[string]float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	names := make([]string, n)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%07d", i))
	}
	res := map[string]float64{}
	phase := func(name string, op func(string) error) error {
		dropCaches()
		start := time.Now()
		for _, p := range names {
			if err := op(p); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		res[name] = float64(n) / time.Since(start).Seconds()
		return nil
	}
	if err := phase("create", func(p string) error {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	}); err != nil {
		return nil, err
	}
	if err := phase("stat", func(p string) error { _, err := os.Stat(p); return err }); err != nil {
		return nil, err
	}
	if err := phase("unlink", os.Remove); err != nil {
		return nil, err
	}
	return res, os.Remove(dir)
}

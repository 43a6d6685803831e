package frontend_test

// A metamorphic test in the style of pebble's: random POSIX operation
// sequences run against the mount and against a model file system (a
// map of paths to contents); every result, errno included, must agree,
// and at the end the whole tree must match the model.

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	// metamorphicOps is the length of one random sequence.
	metamorphicOps = 1500
	// metamorphicContentMax bounds a file's size in the model.
	metamorphicContentMax = 200 << 10
)

// metamorphicNames keeps the namespace small so operations collide.
var metamorphicNames = []string{"a", "b", "c", "d", "e"}

// model is the reference file system: a path ("a", "a/b") maps to a
// node; the root "" always exists.
type model map[string]*modelNode

type modelNode struct {
	dir  bool
	data []byte
}

// resolve checks the parents of p: ENOENT for a missing one, ENOTDIR
// for one that is a file.
func (m model) resolve(p string) syscall.Errno {
	parent := path.Dir(p)
	if parent == "." {
		return 0
	}
	if e := m.resolve(parent); e != 0 {
		return e
	}
	n := m[parent]
	switch {
	case n == nil:
		return syscall.ENOENT
	case !n.dir:
		return syscall.ENOTDIR
	}
	return 0
}

func (m model) empty(dir string) bool {
	for p := range m {
		if strings.HasPrefix(p, dir+"/") {
			return false
		}
	}
	return true
}

func (m model) write(p string, data []byte) syscall.Errno {
	if e := m.resolve(p); e != 0 {
		return e
	}
	if n := m[p]; n != nil && n.dir {
		return syscall.EISDIR
	}
	m[p] = &modelNode{data: append([]byte(nil), data...)}
	return 0
}

func (m model) file(p string) (*modelNode, syscall.Errno) {
	if e := m.resolve(p); e != 0 {
		return nil, e
	}
	n := m[p]
	switch {
	case n == nil:
		return nil, syscall.ENOENT
	case n.dir:
		return nil, syscall.EISDIR
	}
	return n, 0
}

func (m model) mkdir(p string) syscall.Errno {
	if e := m.resolve(p); e != 0 {
		return e
	}
	if m[p] != nil {
		return syscall.EEXIST
	}
	m[p] = &modelNode{dir: true}
	return 0
}

func (m model) rmdir(p string) syscall.Errno {
	if e := m.resolve(p); e != 0 {
		return e
	}
	n := m[p]
	switch {
	case n == nil:
		return syscall.ENOENT
	case !n.dir:
		return syscall.ENOTDIR
	case !m.empty(p):
		return syscall.ENOTEMPTY
	}
	delete(m, p)
	return 0
}

func (m model) unlink(p string) syscall.Errno {
	if e := m.resolve(p); e != 0 {
		return e
	}
	n := m[p]
	switch {
	case n == nil:
		return syscall.ENOENT
	case n.dir:
		return syscall.EISDIR
	}
	delete(m, p)
	return 0
}

// rename follows the order of checks in Linux's renameat2.
func (m model) rename(from, to string) syscall.Errno {
	// Both parents are resolved before either last component.
	if e := m.resolve(from); e != 0 {
		return e
	}
	if e := m.resolve(to); e != 0 {
		return e
	}
	src := m[from]
	if src == nil {
		return syscall.ENOENT
	}
	if strings.HasPrefix(to+"/", from+"/") && to != from {
		return syscall.EINVAL // source is an ancestor of the target
	}
	if strings.HasPrefix(from, to+"/") {
		return syscall.ENOTEMPTY // target is an ancestor of the source
	}
	dst := m[to]
	if from == to || dst == src {
		return 0
	}
	if dst != nil {
		switch {
		case dst.dir && !src.dir:
			return syscall.EISDIR
		case !dst.dir && src.dir:
			return syscall.ENOTDIR
		case dst.dir && !m.empty(to):
			return syscall.ENOTEMPTY
		}
	}
	moved := map[string]*modelNode{}
	for p, n := range m {
		if p == from || strings.HasPrefix(p, from+"/") {
			moved[to+strings.TrimPrefix(p, from)] = n
			delete(m, p)
		}
	}
	delete(m, to)
	for p, n := range moved {
		m[p] = n
	}
	return 0
}

func randomPath(r *rand.Rand) string {
	p := metamorphicNames[r.IntN(len(metamorphicNames))]
	for r.IntN(3) == 0 && strings.Count(p, "/") < 2 {
		p += "/" + metamorphicNames[r.IntN(len(metamorphicNames))]
	}
	return p
}

func randomData(r *rand.Rand) []byte {
	n := r.IntN(64)
	if r.IntN(8) == 0 {
		n = r.IntN(metamorphicContentMax / 2)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestMetamorphic(t *testing.T) {
	root := newMount(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	m := model{}
	real := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	for i := 0; i < metamorphicOps; i++ {
		p := randomPath(r)
		var op string
		var want, got syscall.Errno
		switch k := r.IntN(10); k {
		case 0, 1:
			op = "write " + p
			data := randomData(r)
			want = m.write(p, data)
			got = errnoOf(os.WriteFile(real(p), data, 0o644))
		case 2:
			op = "append " + p
			data := randomData(r)
			n, e := m.file(p)
			want = e
			f, err := os.OpenFile(real(p), os.O_WRONLY|os.O_APPEND, 0)
			if err == nil {
				_, err = f.Write(data)
				f.Close()
			}
			got = errnoOf(err)
			if want == 0 && len(n.data)+len(data) <= metamorphicContentMax {
				n.data = append(n.data, data...)
			} else if want == 0 {
				n.data = append(n.data, data...)
			}
		case 3:
			op = "truncate " + p
			size := r.IntN(1 << 12)
			n, e := m.file(p)
			want = e
			if e == 0 {
				if size <= len(n.data) {
					n.data = n.data[:size]
				} else {
					n.data = append(n.data, make([]byte, size-len(n.data))...)
				}
			}
			got = errnoOf(os.Truncate(real(p), int64(size)))
		case 4:
			op = "read " + p
			n, e := m.file(p)
			want = e
			data, err := os.ReadFile(real(p))
			got = errnoOf(err)
			if want == 0 && got == 0 && !bytes.Equal(data, n.data) {
				t.Fatalf("op %d %s: read %d bytes, model has %d", i, op, len(data), len(n.data))
			}
		case 5:
			op = "mkdir " + p
			want = m.mkdir(p)
			got = errnoOf(os.Mkdir(real(p), 0o755))
		case 6:
			op = "rmdir " + p
			want = m.rmdir(p)
			got = errnoOf(unix.Rmdir(real(p)))
		case 7:
			op = "unlink " + p
			want = m.unlink(p)
			got = errnoOf(unix.Unlink(real(p)))
		case 8:
			to := randomPath(r)
			op = "rename " + p + " " + to
			want = m.rename(p, to)
			got = errnoOf(unix.Rename(real(p), real(to)))
		case 9:
			op = "stat " + p
			if want = m.resolve(p); want == 0 && m[p] == nil {
				want = syscall.ENOENT
			}
			var st unix.Stat_t
			got = errnoOf(unix.Lstat(real(p), &st))
			if want == 0 && got == 0 {
				n := m[p]
				if n.dir != (st.Mode&unix.S_IFMT == unix.S_IFDIR) || (!n.dir && st.Size != int64(len(n.data))) {
					t.Fatalf("op %d %s: mode %o size %d, model dir=%v size %d", i, op, st.Mode, st.Size, n.dir, len(n.data))
				}
			}
		}
		if got != want {
			t.Fatalf("op %d %s: errno %v, model says %v", i, op, got, want)
		}
	}
	compareTree(t, root, m)
}

// compareTree walks the mount and checks it holds exactly the model.
func compareTree(t *testing.T, root string, m model) {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		found = append(found, rel)
		n := m[rel]
		if n == nil {
			return errors.New("extra entry " + rel)
		}
		if n.dir != d.IsDir() {
			return errors.New("type differs at " + rel)
		}
		if !n.dir {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if !bytes.Equal(data, n.data) {
				return errors.New("content differs at " + rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("tree: %v", err)
	}
	var want []string
	for p := range m {
		want = append(want, p)
	}
	sort.Strings(want)
	sort.Strings(found)
	if strings.Join(found, ",") != strings.Join(want, ",") {
		t.Fatalf("tree has %v, model has %v", found, want)
	}
}

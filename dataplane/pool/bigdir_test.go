package pool_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/pool"
)

// bigDirEntries is the size of the big directory (a variable so a profile can shrink it).
var bigDirEntries = 100000

// TestBigDirectory lists a directory of 100,000 entries completely, by
// cookie, while entries are added and removed: every entry that stays
// put is listed exactly once. The listing survives a reopen.
func TestBigDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 entries")
	}
	ctx := context.Background()
	p, f, paths := newFS(t)
	d := must(f.Mkdir(ctx, root, fs.RootIno, "big", 0o755))
	n := bigDirEntries
	for i := 0; i < n; i++ {
		if _, err := f.Mknod(ctx, root, d.Ino, fmt.Sprintf("e%06d", i), syscall.S_IFREG|0o644, 0); err != nil {
			t.Fatal(err)
		}
	}
	list := func(f *pool.FS, churn bool) map[string]int {
		seen := make(map[string]int, n)
		buf := make([]fs.DirEntry, 500)
		cookie := uint64(0)
		for round := 0; ; round++ {
			k, err := f.ReadDir(ctx, root, d.Ino, cookie, buf)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				return seen
			}
			for _, e := range buf[:k] {
				seen[e.Name]++
				cookie = e.Cookie
			}
			if churn && round < n/len(buf) { // new entries land after the cursor: stop adding before the end
				// Remove some entries not yet listed and some already
				// listed, and add new ones.
				for j := 0; j < 5; j++ {
					f.Unlink(ctx, root, d.Ino, fmt.Sprintf("e%06d", (round*997+j*131)%n))
					f.Mknod(ctx, root, d.Ino, fmt.Sprintf("new%d-%d", round, j), syscall.S_IFREG|0o644, 0)
				}
			}
		}
	}
	t.Logf("created %d", n)
	seen := list(f, true)
	t.Logf("listed with churn: %d names", len(seen))
	removed := make(map[string]bool)
	for round := 0; round < n/500; round++ {
		for j := 0; j < 5; j++ {
			removed[fmt.Sprintf("e%06d", (round*997+j*131)%n)] = true
		}
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("e%06d", i)
		if c := seen[name]; c > 1 || (c == 0 && !removed[name]) {
			t.Fatalf("%s listed %d times", name, c)
		}
	}
	for name, c := range seen {
		if c != 1 {
			t.Fatalf("%s listed %d times", name, c)
		}
	}
	want := len(list(f, false))
	p2 := reopen(t, p, paths)
	defer p2.Close()
	if got := len(list(must(p2.FS("fs")), false)); got != want {
		t.Fatalf("after reopen %d entries, before %d", got, want)
	}
	t.Logf("%d entries listed", want)
}

func init() {
	if testing.Testing() {
		if v := os.Getenv("WFS_BIGDIR"); v != "" {
			bigDirEntries, _ = strconv.Atoi(v)
		}
	}
}

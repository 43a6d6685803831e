package bucket

import (
	"fmt"
	"testing"
)

func TestIno(t *testing.T) {
	for b := 0; b < Count; b++ {
		ino := MakeIno(b, 12345)
		if Of(ino) != b || Counter(ino) != 12345 {
			t.Fatalf("bucket %d: ino %#x", b, ino)
		}
	}
	seen := make(map[int]int)
	for i := 0; i < 64000; i++ {
		seen[Place(1, fmt.Sprint(i))]++
	}
	for b := 0; b < Count; b++ {
		if seen[b] < 500 {
			t.Fatalf("bucket %d got %d of 64000 names", b, seen[b])
		}
	}
	if Place(7, "x") != Place(7, "x") {
		t.Fatal("placement not stable")
	}
}

// TestDirCookies: entries removed and added while walking never make the
// walk skip or repeat the entries that stay.
func TestDirCookies(t *testing.T) {
	d := NewDir()
	next := uint64(FirstCookie)
	add := func(name string) {
		d.Put(Entry{Name: name, Ino: next, Cookie: next})
		next++
	}
	for i := 0; i < 1000; i++ {
		add(fmt.Sprintf("n%d", i))
	}
	seen := map[string]int{}
	cookie := uint64(0)
	for step := 0; ; step++ {
		got := 0
		d.After(cookie, func(e *Entry) bool {
			seen[e.Name]++
			cookie = e.Cookie
			got++
			return got < 10
		})
		if got == 0 {
			break
		}
		// Remove behind and ahead, add ahead (stops before the end).
		d.Remove(fmt.Sprintf("n%d", step*3))
		d.Remove(fmt.Sprintf("n%d", 999-step))
		if step < 50 {
			add(fmt.Sprintf("m%d", step))
		}
	}
	for name, c := range seen {
		if c != 1 {
			t.Fatalf("%s seen %d times", name, c)
		}
	}
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("n%d", i)
		if d.Get(name) != nil && seen[name] != 1 {
			t.Fatalf("%s present but seen %d times", name, seen[name])
		}
	}
	// Replacing an entry moves it to a new cookie.
	d.Put(Entry{Name: "n1", Ino: 5, Cookie: next})
	if e := d.Get("n1"); e.Ino != 5 || e.Cookie != next {
		t.Fatal("replace")
	}
}

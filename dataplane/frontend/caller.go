package frontend

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/weft-fs/weft/dataplane/fs"
)

const (
	// procStatusBytesMax bounds the read of /proc/<pid>/status; the
	// Groups line comes well before this.
	procStatusBytesMax = 4096
	// groupsTTL is how long a thread's supplementary groups are reused
	// before /proc is read again. Only a privileged process can change
	// its groups without changing uid or gid (which miss the cache), so
	// the window matters only for a recycled pid with the same ids.
	groupsTTL = time.Second
	// groupsCacheEntriesMax bounds the cache; when full it starts over.
	groupsCacheEntriesMax = 4096
)

// caller builds the credentials a request is checked against: the
// effective uid and gid the kernel puts in the FUSE header, and the
// supplementary groups of the calling thread read from
// /proc/<pid>/status. Root needs no groups (it passes every check), and
// neither does a request the kernel makes on its own (pid 0), so those
// skip the lookup.
func (f *fileSystem) caller(h *fuse.InHeader) fs.Caller {
	c := fs.Caller{Uid: h.Uid, Gid: h.Gid, Pid: h.Pid}
	if h.Uid != 0 && h.Pid != 0 {
		c.Groups = f.groups.lookup(h.Pid, h.Uid, h.Gid)
	}
	return c
}

// groupsCache remembers the groups of recent callers: reading /proc
// costs three system calls per request otherwise.
type groupsCache struct {
	mu      sync.Mutex
	entries map[uint32]groupsEntry
}

type groupsEntry struct {
	uid, gid uint32
	groups   []uint32 // shared, never modified
	expires  time.Time
}

func (g *groupsCache) lookup(pid, uid, gid uint32) []uint32 {
	now := time.Now()
	g.mu.Lock()
	e, ok := g.entries[pid]
	g.mu.Unlock()
	if ok && e.uid == uid && e.gid == gid && now.Before(e.expires) {
		return e.groups
	}
	groups := groupsOf(pid)
	g.mu.Lock()
	if g.entries == nil || len(g.entries) >= groupsCacheEntriesMax {
		g.entries = make(map[uint32]groupsEntry)
	}
	g.entries[pid] = groupsEntry{uid: uid, gid: gid, groups: groups, expires: now.Add(groupsTTL)}
	g.mu.Unlock()
	return groups
}

// groupsOf reads the Groups line of /proc/<pid>/status; nil if the
// process is gone (its request then fails like one from a process
// without supplementary groups).
func groupsOf(pid uint32) []uint32 {
	fd, err := os.Open("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return nil
	}
	defer fd.Close()
	var buf [procStatusBytesMax]byte
	n, _ := fd.Read(buf[:])
	return parseGroups(buf[:n])
}

// parseGroups extracts the ids from the "Groups:" line of a
// /proc/<pid>/status text.
func parseGroups(status []byte) []uint32 {
	i := bytes.Index(status, []byte("\nGroups:"))
	if i < 0 {
		return nil
	}
	line := status[i+len("\nGroups:"):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	var groups []uint32
	for _, field := range bytes.Fields(line) {
		g, err := strconv.ParseUint(string(field), 10, 32)
		if err != nil {
			continue
		}
		groups = append(groups, uint32(g))
	}
	return groups
}

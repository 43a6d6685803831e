package frontend

import "sync"

// inodeTable counts the kernel's references to each node id: every
// entry reply (lookup, create, mkdir, mknod, symlink, link, readdirplus)
// adds one, a forget subtracts what the kernel says. The count tells
// which inodes the kernel may still name, for stats and for the check
// at unmount that the kernel forgot everything it was given.
type inodeTable struct {
	mu   sync.Mutex
	refs map[uint64]uint64
}

func newInodeTable() *inodeTable {
	return &inodeTable{refs: make(map[uint64]uint64)}
}

func (t *inodeTable) ref(node, n uint64) {
	t.mu.Lock()
	t.refs[node] += n
	t.mu.Unlock()
}

// forget drops n references; the entry goes when none remain.
func (t *inodeTable) forget(node, n uint64) {
	t.mu.Lock()
	if c := t.refs[node]; c <= n {
		delete(t.refs, node)
	} else {
		t.refs[node] = c - n
	}
	t.mu.Unlock()
}

// count is the kernel's reference count of node.
func (t *inodeTable) count(node uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refs[node]
}

// len is how many inodes the kernel holds references to.
func (t *inodeTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.refs)
}

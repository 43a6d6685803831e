package mgmt

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
)

// State is the replicated cluster configuration.
type State struct {
	Cluster     *api.Cluster     `json:"cluster"`
	Pool        *api.Pool        `json:"pool"`
	Drives      []api.Drive      `json:"drives"`
	FileSystems []api.FileSystem `json:"filesystems"`
}

// clone returns a deep copy, so readers never share slices with the fsm.
func (s State) clone() State {
	c := State{Drives: slices.Clone(s.Drives), FileSystems: slices.Clone(s.FileSystems)}
	if s.Cluster != nil {
		cl := *s.Cluster
		c.Cluster = &cl
	}
	if s.Pool != nil {
		p := *s.Pool
		p.Drives = slices.Clone(p.Drives)
		c.Pool = &p
	}
	return c
}

// FS returns the file system called name.
func (s State) FS(name string) (api.FileSystem, bool) {
	for _, f := range s.FileSystems {
		if f.Name == name {
			return f, true
		}
	}
	return api.FileSystem{}, false
}

// Operations of a command.
const (
	opCreateCluster = "create_cluster"
	opAddDrive      = "add_drive"
	opRemoveDrive   = "remove_drive"
	opCreatePool    = "create_pool"
	opCreateFS      = "create_fs"
	opDeleteFS      = "delete_fs"
)

// command is one raft log entry.
type command struct {
	Op      string          `json:"op"`
	Cluster *api.Cluster    `json:"cluster,omitempty"`
	Drive   *api.Drive      `json:"drive,omitempty"`
	Pool    *api.Pool       `json:"pool,omitempty"`
	FS      *api.FileSystem `json:"fs,omitempty"`
	Name    string          `json:"name,omitempty"`
}

// check refuses a command missing the part its operation needs.
func (c *command) check() error {
	missing := ""
	switch c.Op {
	case opCreateCluster:
		if c.Cluster == nil {
			missing = "cluster"
		}
	case opAddDrive:
		if c.Drive == nil {
			missing = "drive"
		}
	case opCreatePool:
		if c.Pool == nil {
			missing = "pool"
		}
	case opCreateFS:
		if c.FS == nil {
			missing = "fs"
		}
	}
	if missing != "" {
		return fmt.Errorf("%s command without its %s", c.Op, missing)
	}
	return nil
}

// fsm applies commands to State. Apply must be deterministic: every check
// it makes depends only on the state and the command.
type fsm struct {
	mu    sync.RWMutex
	state State
}

func (f *fsm) Apply(l *raft.Log) any {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("decode command at index %d: %w", l.Index, err)
	}
	if err := c.check(); err != nil {
		return fmt.Errorf("command at index %d: %w", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &f.state
	switch c.Op {
	case opCreateCluster:
		if s.Cluster != nil {
			return fmt.Errorf("%w: cluster %s (%s) already exists", ErrConflict, s.Cluster.Name, s.Cluster.UUID)
		}
		cl := *c.Cluster
		s.Cluster = &cl
	case opAddDrive:
		if s.Cluster == nil {
			return ErrNoCluster
		}
		if s.Pool != nil {
			return fmt.Errorf("%w: the pool was formatted with %d drives when the first file system was created; adding drives to it is not supported yet", ErrConflict, len(s.Pool.Drives))
		}
		for _, d := range s.Drives {
			if d.UUID == c.Drive.UUID || (d.Host == c.Drive.Host && d.Path == c.Drive.Path) {
				return fmt.Errorf("%w: drive %s is already in the pool", ErrConflict, c.Drive.Path)
			}
		}
		s.Drives = append(s.Drives, *c.Drive)
	case opRemoveDrive:
		if s.Pool != nil {
			return fmt.Errorf("%w: the pool is formatted; removing its drives is not supported yet", ErrConflict)
		}
		i := slices.IndexFunc(s.Drives, func(d api.Drive) bool { return d.UUID == c.Name })
		if i < 0 {
			return fmt.Errorf("%w: drive %s", ErrNotFound, c.Name)
		}
		s.Drives = slices.Delete(s.Drives, i, i+1)
	case opCreatePool:
		if s.Pool != nil {
			return fmt.Errorf("%w: the pool exists", ErrConflict)
		}
		p := *c.Pool
		p.Drives = slices.Clone(p.Drives)
		s.Pool = &p
		for i := range s.Drives {
			if slices.Contains(p.Drives, s.Drives[i].UUID) {
				s.Drives[i].State = "active"
			}
		}
	case opCreateFS:
		if s.Cluster == nil {
			return ErrNoCluster
		}
		if _, ok := s.FS(c.FS.Name); ok {
			return fmt.Errorf("%w: file system %q already exists", ErrConflict, c.FS.Name)
		}
		s.FileSystems = append(s.FileSystems, *c.FS)
	case opDeleteFS:
		i := slices.IndexFunc(s.FileSystems, func(f api.FileSystem) bool { return f.Name == c.Name })
		if i < 0 {
			return fmt.Errorf("%w: file system %q", ErrNotFound, c.Name)
		}
		s.FileSystems = slices.Delete(s.FileSystems, i, i+1)
	default:
		return fmt.Errorf("unknown command %q at index %d", c.Op, l.Index)
	}
	return nil
}

func (f *fsm) get() State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.clone()
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	b, err := json.Marshal(f.get())
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	var s State
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return fmt.Errorf("restore management snapshot: %w", err)
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	return nil
}

// snapshot is an encoded State.
type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() {}

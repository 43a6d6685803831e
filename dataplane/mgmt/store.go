package mgmt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
)

// Limits and timings of the management store.
const (
	applyTimeout       = 10 * time.Second
	leaderWaitTimeout  = 30 * time.Second
	snapshotsRetained  = 2
	raftTimeoutShort   = 200 * time.Millisecond // one voter: nothing to wait for
	raftLeaderLease    = 100 * time.Millisecond
	nodeIDFile         = "node-id"
	raftDirName        = "raft"
	raftLogFile        = "raft.db"
	snapshotThreshold  = 1024 // log entries between snapshots
	snapshotInterval   = 30 * time.Second
	raftTransportAddrs = "weftd-mgmt" // in-memory transport: one voter
)

// Store is the raft-replicated cluster configuration of one agent.
type Store struct {
	raft   *raft.Raft
	fsm    *fsm
	logs   *raftboltdb.BoltStore
	nodeID string
	log    *slog.Logger
}

// OpenStore opens (or bootstraps, on first start) the management store in
// stateDir/raft. With one voter it becomes leader by itself; OpenStore
// waits for that so the caller can read the state.
func OpenStore(ctx context.Context, stateDir string, log *slog.Logger) (*Store, error) {
	dir := filepath.Join(stateDir, raftDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("management store: %w", err)
	}
	nodeID, err := loadNodeID(stateDir)
	if err != nil {
		return nil, err
	}
	logs, err := raftboltdb.NewBoltStore(filepath.Join(dir, raftLogFile))
	if err != nil {
		return nil, fmt.Errorf("management store: open raft log %s: %w", filepath.Join(dir, raftLogFile), err)
	}
	s := &Store{fsm: &fsm{}, logs: logs, nodeID: nodeID, log: log}
	snaps, err := raft.NewFileSnapshotStore(dir, snapshotsRetained, raftLogWriter{log})
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("management store: snapshots: %w", err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(nodeID)
	conf.LogOutput = raftLogWriter{log}
	conf.LogLevel = "WARN"
	conf.HeartbeatTimeout = raftTimeoutShort
	conf.ElectionTimeout = raftTimeoutShort
	conf.LeaderLeaseTimeout = raftLeaderLease
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = snapshotThreshold
	conf.SnapshotInterval = snapshotInterval
	// One voter today: the in-memory transport carries nothing. A second
	// management voter brings a network transport, not a new store.
	addr, trans := raft.NewInmemTransport(raftTransportAddrs)

	existing, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("management store: %w", err)
	}
	if !existing {
		cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: conf.LocalID, Address: addr}}}
		if err := raft.BootstrapCluster(conf, logs, logs, snaps, trans, cfg); err != nil {
			logs.Close()
			return nil, fmt.Errorf("management store: bootstrap: %w", err)
		}
		log.Info("management store bootstrapped", "dir", dir, "node", nodeID)
	}
	r, err := raft.NewRaft(conf, s.fsm, logs, logs, snaps, trans)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("management store: start raft: %w", err)
	}
	s.raft = r
	wait, cancel := context.WithTimeout(ctx, leaderWaitTimeout)
	defer cancel()
	for r.State() != raft.Leader {
		select {
		case <-wait.Done():
			s.Close()
			return nil, fmt.Errorf("management store: no leadership after %s (state %s)", leaderWaitTimeout, r.State())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Replay everything committed before serving reads.
	if err := r.Barrier(applyTimeout).Error(); err != nil {
		s.Close()
		return nil, fmt.Errorf("management store: replay: %w", err)
	}
	return s, nil
}

func loadNodeID(stateDir string) (string, error) {
	p := filepath.Join(stateDir, nodeIDFile)
	b, err := os.ReadFile(p)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if _, perr := uuid.Parse(id); perr != nil {
			return "", fmt.Errorf("management store: %s holds %q, not a UUID", p, id)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("management store: %w", err)
	}
	id := uuid.NewString()
	if err := writeFileSync(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("management store: %w", err)
	}
	return id, nil
}

// writeFileSync writes a file durably (temp file, fsync, rename, fsync dir).
func writeFileSync(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// NodeID is this agent's management node ID (stable across restarts).
func (s *Store) NodeID() string { return s.nodeID }

// State returns a copy of the current configuration.
func (s *Store) State() State { return s.fsm.get() }

// apply commits a command and returns the fsm's verdict.
func (s *Store) apply(c command) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f := s.raft.Apply(b, applyTimeout)
	if err := f.Error(); err != nil {
		return fmt.Errorf("management store: commit %s: %w", c.Op, err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// Raft describes the consensus state for status output.
func (s *Store) Raft() api.Raft {
	st := s.raft.Stats()
	r := api.Raft{State: s.raft.State().String(), Term: parseU(st["term"]), LastIndex: s.raft.LastIndex(), AppliedIndex: s.raft.AppliedIndex()}
	_, id := s.raft.LeaderWithID()
	r.Leader = string(id)
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		for _, sv := range f.Configuration().Servers {
			if sv.Suffrage == raft.Voter {
				r.Voters++
			}
		}
	}
	return r
}

func parseU(s string) uint64 {
	var n uint64
	fmt.Sscan(s, &n)
	return n
}

// Close stops raft and closes the log.
func (s *Store) Close() error {
	var err error
	if s.raft != nil {
		err = s.raft.Shutdown().Error()
	}
	if cerr := s.logs.Close(); err == nil {
		err = cerr
	}
	return err
}

// raftLogWriter forwards hashicorp's log lines to slog at their level.
// A lone voter's first election ("heartbeat timeout reached") is how it
// becomes leader on every start, not a warning.
type raftLogWriter struct{ log *slog.Logger }

func (w raftLogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	level := slog.LevelInfo
	switch {
	case strings.Contains(line, "[ERROR]"):
		level = slog.LevelError
	case strings.Contains(line, "heartbeat timeout reached"):
		level = slog.LevelDebug
	case strings.Contains(line, "[WARN]"):
		level = slog.LevelWarn
	}
	w.log.Log(context.Background(), level, "raft", "msg", line)
	return len(p), nil
}

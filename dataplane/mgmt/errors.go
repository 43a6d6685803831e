package mgmt

import "errors"

// Errors the API maps to HTTP statuses; the Dataplane wraps them too.
var (
	// ErrInvalid is a request with a bad value (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound names something that does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict is a request that clashes with the state (409).
	ErrConflict = errors.New("conflict")
	// ErrNoSpace is a request the pool has no room for (507).
	ErrNoSpace = errors.New("no space")
	// ErrNoCluster is a request that needs `weft cluster create` first (409).
	ErrNoCluster = errors.New("no cluster: run `weft cluster create` first")
	// ErrNotLeader is a write on a node that is not the raft leader (503).
	ErrNotLeader = errors.New("not the management leader")
)

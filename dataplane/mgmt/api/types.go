package api

import "time"

// Paths of the API.
const (
	PathStatus      = "/v1/status"
	PathCluster     = "/v1/cluster"
	PathDrives      = "/v1/cluster/drives"
	PathFileSystems = "/v1/fs"
	PathMounts      = "/v1/local/mounts"
	PathHealth      = "/healthz"
	PathMetrics     = "/metrics"
)

// Cluster is the cluster this agent belongs to.
type Cluster struct {
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Drive is one drive of the pool.
type Drive struct {
	UUID       string    `json:"uuid"`
	Path       string    `json:"path"`
	Host       string    `json:"host"`
	SizeBytes  uint64    `json:"size_bytes"`
	State      string    `json:"state"` // pending (not yet in a pool), active, missing, failed
	AddedAt    time.Time `json:"added_at"`
	BlockBytes uint32    `json:"block_bytes,omitempty"`
	// ForceFormat lets the pool's creation format over an existing weft
	// superblock (drive add --force).
	ForceFormat bool `json:"force_format,omitempty"`
}

// Pool is the set of drives file systems are striped over; it is
// formatted when the first file system is created, from the drives added
// until then.
type Pool struct {
	CreatedAt time.Time `json:"created_at"`
	Drives    []string  `json:"drives"` // drive UUIDs in pool order
}

// FileSystem is one file system of the cluster.
type FileSystem struct {
	Name          string    `json:"name"`
	UUID          string    `json:"uuid"`
	CapacityBytes uint64    `json:"capacity_bytes"`
	DataShards    int       `json:"data_shards"`
	ParityShards  int       `json:"parity_shards"`
	CreatedAt     time.Time `json:"created_at"`
	// Filled from the live file system when it is open.
	UsedBytes uint64 `json:"used_bytes"`
	Files     uint64 `json:"files"`
	State     string `json:"state,omitempty"` // ok, degraded, offline
}

// Protection renders the file system's erasure coding as "N+P".
func (f FileSystem) Protection() string { return Protection{f.DataShards, f.ParityShards}.String() }

// Mount is one local mount served by this agent.
type Mount struct {
	Source    string    `json:"source"` // host/fs
	Dir       string    `json:"dir"`
	FS        string    `json:"fs"`
	Options   string    `json:"options"`
	Mode      string    `json:"mode"` // dedicated core N, num_cores N, udp
	Cores     []int     `json:"cores"`
	Net       string    `json:"net"`
	MountedAt time.Time `json:"mounted_at"`
}

// Raft is the management role's consensus state.
type Raft struct {
	State        string `json:"state"`
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Voters       int    `json:"voters"`
}

// Status is the whole picture `weft status` prints.
type Status struct {
	Host        string       `json:"host"`
	Version     string       `json:"version"`
	StartedAt   time.Time    `json:"started_at"`
	Cpuset      string       `json:"cpuset"`
	Cores       string       `json:"cores"`
	DataAddr    string       `json:"data_addr"`
	Cluster     *Cluster     `json:"cluster"`
	Pool        *Pool        `json:"pool"`
	Raft        Raft         `json:"raft"`
	Drives      []Drive      `json:"drives"`
	FileSystems []FileSystem `json:"filesystems"`
	Mounts      []Mount      `json:"mounts"`
}

// CreateClusterRequest creates the cluster (once per cluster).
type CreateClusterRequest struct {
	Name string `json:"name"`
}

// AddDrivesRequest formats drives and adds them to the pool.
type AddDrivesRequest struct {
	Paths []string `json:"paths"`
	// Force formats a drive that carries a foreign weft superblock.
	Force bool `json:"force"`
}

// RemoveDriveRequest removes a drive that is not yet part of the pool.
type RemoveDriveRequest struct {
	Path string `json:"path"` // the drive's path or UUID
}

// CreateFSRequest creates a file system.
type CreateFSRequest struct {
	Name          string `json:"name"`
	CapacityBytes uint64 `json:"capacity_bytes"`
	Protection    string `json:"protection"` // "N+P"
}

// MountRequest asks the agent to serve a file system on a directory.
type MountRequest struct {
	Source  string `json:"source"` // host/fs
	Dir     string `json:"dir"`
	Options string `json:"options"`
}

// UnmountRequest asks the agent to unmount a directory it serves.
type UnmountRequest struct {
	Dir string `json:"dir"`
	// Lazy detaches the mount even if it is busy (umount -l).
	Lazy bool `json:"lazy"`
}

// ErrorBody is the body of every non-2xx answer.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Error codes of ErrorBody, one per HTTP status the API uses.
const (
	CodeInvalid      = "invalid"      // 400
	CodeUnauthorized = "unauthorized" // 401
	CodeNotFound     = "not_found"    // 404
	CodeConflict     = "conflict"     // 409
	CodeNoSpace      = "no_space"     // 507
	CodeUnavailable  = "unavailable"  // 503
	CodeInternal     = "internal"     // 500
)

package mgmt

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/mountopt"
)

// Limits of the API.
const (
	requestBodyBytesMax = 1 << 20
	drivesPerRequestMax = 256
	fsNameBytesMax      = 64
	clusterNameBytesMax = 64
	fileSystemsMax      = 1024
	readHeaderTimeout   = 10 * time.Second
	idleTimeout         = 2 * time.Minute
)

// fsNameRE is what a file system name may be: it is a path element of the
// mount source and a metric label.
var fsNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Dataplane is what the management role asks of the rest of the agent.
// Errors wrap ErrInvalid, ErrNotFound, ErrConflict or ErrNoSpace where
// the caller should see them as such.
type Dataplane interface {
	// CheckDrive checks that path can become a drive of the pool (a
	// block device or file, large enough, not in use) and describes it.
	CheckDrive(ctx context.Context, path string, force bool) (api.Drive, error)
	// CreatePool formats the drives as the pool file systems live in.
	CreatePool(ctx context.Context, cluster api.Cluster, drives []api.Drive) error
	// CreateFS creates a file system in the pool (after it is committed).
	CreateFS(ctx context.Context, f api.FileSystem) error
	// DeleteFS removes a file system from the pool; it fails with
	// ErrConflict while the file system is mounted.
	DeleteFS(ctx context.Context, f api.FileSystem) error
	// FSUsage fills the live fields (used bytes, files, state) of f.
	FSUsage(f *api.FileSystem)
	// DriveState fills the live state of d.
	DriveState(d *api.Drive)
	// Mount serves f on req.Dir with the parsed options.
	Mount(ctx context.Context, f api.FileSystem, req api.MountRequest, o mountopt.Options) (api.Mount, error)
	// Unmount stops serving a directory.
	Unmount(ctx context.Context, r api.UnmountRequest) error
	// Mounts lists the mounts served.
	Mounts() []api.Mount
	// Describe fills the host fields of a status (cpuset, cores, data
	// address).
	Describe(s *api.Status)
}

// ServerConfig configures the API server.
type ServerConfig struct {
	Addr    string // loopback listen address
	Token   string
	Host    string // this host's name, as drives and status name it
	Version string
}

// Server is the management REST API.
type Server struct {
	cfg     ServerConfig
	store   *Store
	dp      Dataplane
	log     *slog.Logger
	reg     *prometheus.Registry
	reqs    *prometheus.CounterVec
	started time.Time

	// mu serialises the requests that change state: each is a check, a
	// dataplane action and a commit that must not interleave.
	mu sync.Mutex

	http *http.Server
	ln   net.Listener
}

// NewServer builds the API over an open store and the agent's dataplane.
func NewServer(cfg ServerConfig, store *Store, dp Dataplane, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, store: store, dp: dp, log: log, reg: prometheus.NewRegistry(), started: time.Now()}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weft_api_requests_total", Help: "Management API requests by route and HTTP status.",
	}, []string{"route", "code"})
	s.reg.MustRegister(s.reqs, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}), stateCollector{s})

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathHealth, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET "+api.PathMetrics, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.route(mux, "GET "+api.PathStatus, s.status)
	s.route(mux, "GET "+api.PathCluster, s.getCluster)
	s.route(mux, "POST "+api.PathCluster, s.createCluster)
	s.route(mux, "GET "+api.PathDrives, s.listDrives)
	s.route(mux, "POST "+api.PathDrives, s.addDrives)
	s.route(mux, "POST "+api.PathDrives+"/remove", s.removeDrive)
	s.route(mux, "GET "+api.PathFileSystems, s.listFS)
	s.route(mux, "POST "+api.PathFileSystems, s.createFS)
	s.route(mux, "DELETE "+api.PathFileSystems+"/{name}", s.deleteFS)
	s.route(mux, "GET "+api.PathMounts, s.listMounts)
	s.route(mux, "POST "+api.PathMounts, s.mount)
	s.route(mux, "POST "+api.PathMounts+"/unmount", s.unmount)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s
}

// Registry is the server's metrics registry; other roles register their
// collectors here.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// handler answers one route: it returns the reply body or an error.
type handler func(r *http.Request) (any, error)

func (s *Server) route(mux *http.ServeMux, pattern string, h handler) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		code := s.serve(w, r, h)
		s.reqs.WithLabelValues(pattern, strconv.Itoa(code)).Inc()
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, h handler) int {
	w.Header().Set("Content-Type", "application/json")
	if !s.authorized(r) {
		return writeJSON(w, http.StatusUnauthorized, api.ErrorBody{
			Error: "missing or wrong API token: send \"Authorization: Bearer <token>\" with the token from the agent's state directory",
			Code:  api.CodeUnauthorized})
	}
	r.Body = http.MaxBytesReader(w, r.Body, requestBodyBytesMax)
	out, err := h(r)
	if err != nil {
		status, code := errorStatus(err)
		if status >= 500 {
			s.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		return writeJSON(w, status, api.ErrorBody{Error: err.Error(), Code: code})
	}
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	return status
}

func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, mountopt.ErrUnknownOption), errors.Is(err, mountopt.ErrBadValue),
		errors.Is(err, mountopt.ErrConflict), errors.Is(err, mountopt.ErrTooLong),
		errors.Is(err, api.ErrProtection), errors.Is(err, api.ErrSize):
		return http.StatusBadRequest, api.CodeInvalid
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNoCluster):
		return http.StatusConflict, api.CodeConflict
	case errors.Is(err, ErrNoSpace):
		return http.StatusInsufficientStorage, api.CodeNoSpace
	case errors.Is(err, ErrNotLeader):
		return http.StatusServiceUnavailable, api.CodeUnavailable
	}
	return http.StatusInternalServerError, api.CodeInternal
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %w", ErrInvalid, err)
	}
	return nil
}

// Listen binds the API's address; Serve then answers on it.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("management API: %w", err)
	}
	s.ln = ln
	return nil
}

// Serve answers requests until Shutdown.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("management API: %w", err)
	}
	return nil
}

// Shutdown stops accepting and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

func (s *Server) status(r *http.Request) (any, error) {
	st := s.store.State()
	out := api.Status{Host: s.cfg.Host, Version: s.cfg.Version, StartedAt: s.started, Cluster: st.Cluster, Pool: st.Pool, Raft: s.store.Raft()}
	out.Drives = s.liveDrives(st.Drives)
	out.FileSystems = s.liveFS(st.FileSystems)
	out.Mounts = s.dp.Mounts()
	s.dp.Describe(&out)
	return out, nil
}

func (s *Server) liveDrives(ds []api.Drive) []api.Drive {
	out := make([]api.Drive, len(ds))
	for i, d := range ds {
		s.dp.DriveState(&d)
		out[i] = d
	}
	return out
}

func (s *Server) liveFS(fs []api.FileSystem) []api.FileSystem {
	out := make([]api.FileSystem, len(fs))
	for i, f := range fs {
		s.dp.FSUsage(&f)
		out[i] = f
	}
	return out
}

func (s *Server) getCluster(r *http.Request) (any, error) {
	st := s.store.State()
	if st.Cluster == nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, ErrNoCluster)
	}
	return st.Cluster, nil
}

func (s *Server) createCluster(r *http.Request) (any, error) {
	var req api.CreateClusterRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		req.Name = "weft"
	}
	if len(req.Name) > clusterNameBytesMax || !fsNameRE.MatchString(req.Name) {
		return nil, fmt.Errorf("%w: cluster name %q: accepted 1 to %d letters, digits, '.', '_', '-'", ErrInvalid, req.Name, clusterNameBytesMax)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := api.Cluster{UUID: uuid.NewString(), Name: req.Name, CreatedAt: time.Now().UTC()}
	if err := s.store.apply(command{Op: opCreateCluster, Cluster: &cl}); err != nil {
		return nil, err
	}
	s.log.Info("cluster created", "name", cl.Name, "uuid", cl.UUID)
	return cl, nil
}

func (s *Server) listDrives(r *http.Request) (any, error) {
	return s.liveDrives(s.store.State().Drives), nil
}

func (s *Server) addDrives(r *http.Request) (any, error) {
	var req api.AddDrivesRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.Paths) == 0 || len(req.Paths) > drivesPerRequestMax {
		return nil, fmt.Errorf("%w: %d drive paths: accepted 1 to %d", ErrInvalid, len(req.Paths), drivesPerRequestMax)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store.State()
	if st.Cluster == nil {
		return nil, ErrNoCluster
	}
	added := []api.Drive{}
	for _, p := range req.Paths {
		if !filepath.IsAbs(p) {
			return added, fmt.Errorf("%w: drive path %q is not absolute", ErrInvalid, p)
		}
		p = filepath.Clean(p)
		for _, d := range st.Drives {
			if d.Path == p && d.Host == s.cfg.Host {
				return added, fmt.Errorf("%w: drive %s is already in the pool", ErrConflict, p)
			}
		}
		if st.Pool != nil {
			return added, fmt.Errorf("%w: the pool was formatted with %d drives when the first file system was created; adding drives to it is not supported yet", ErrConflict, len(st.Pool.Drives))
		}
		d, err := s.dp.CheckDrive(r.Context(), p, req.Force)
		if err != nil {
			return added, fmt.Errorf("add drive %s: %w", p, err)
		}
		d.UUID, d.Path, d.Host, d.AddedAt, d.State, d.ForceFormat = uuid.NewString(), p, s.cfg.Host, time.Now().UTC(), "pending", req.Force
		if err := s.store.apply(command{Op: opAddDrive, Drive: &d}); err != nil {
			return added, fmt.Errorf("add drive %s: %w", p, err)
		}
		s.log.Info("drive added", "path", p, "uuid", d.UUID, "bytes", d.SizeBytes)
		st.Drives = append(st.Drives, d)
		added = append(added, d)
	}
	return added, nil
}

func (s *Server) removeDrive(r *http.Request) (any, error) {
	var req api.RemoveDriveRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store.State()
	i := slices.IndexFunc(st.Drives, func(d api.Drive) bool { return d.Path == req.Path || d.UUID == req.Path })
	if i < 0 {
		return nil, fmt.Errorf("%w: %s is not a drive of the cluster", ErrNotFound, req.Path)
	}
	d := st.Drives[i]
	if err := s.store.apply(command{Op: opRemoveDrive, Name: d.UUID}); err != nil {
		return nil, err
	}
	s.log.Info("drive removed", "path", d.Path, "uuid", d.UUID)
	return d, nil
}

func (s *Server) listFS(r *http.Request) (any, error) {
	return s.liveFS(s.store.State().FileSystems), nil
}

func (s *Server) createFS(r *http.Request) (any, error) {
	var req api.CreateFSRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.Name) > fsNameBytesMax || !fsNameRE.MatchString(req.Name) {
		return nil, fmt.Errorf("%w: file system name %q: accepted 1 to %d letters, digits, '.', '_', '-', starting with a letter or digit", ErrInvalid, req.Name, fsNameBytesMax)
	}
	if req.Protection == "" {
		req.Protection = "3+2"
	}
	p, err := api.ParseProtection(req.Protection)
	if err != nil {
		return nil, err
	}
	if req.CapacityBytes == 0 {
		return nil, fmt.Errorf("%w: capacity 0: give the file system's size, e.g. --capacity 10GiB", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store.State()
	if st.Cluster == nil {
		return nil, ErrNoCluster
	}
	if _, ok := st.FS(req.Name); ok {
		return nil, fmt.Errorf("%w: file system %q already exists", ErrConflict, req.Name)
	}
	if len(st.FileSystems) >= fileSystemsMax {
		return nil, fmt.Errorf("%w: %d file systems, at most %d", ErrConflict, len(st.FileSystems), fileSystemsMax)
	}
	if len(st.Drives) < p.Drives() {
		return nil, fmt.Errorf("%w: protection %s needs %d drives, the pool has %d", ErrInvalid, p, p.Drives(), len(st.Drives))
	}
	if st.Pool == nil {
		pl := api.Pool{CreatedAt: time.Now().UTC()}
		for _, d := range st.Drives {
			pl.Drives = append(pl.Drives, d.UUID)
		}
		if err := s.dp.CreatePool(r.Context(), *st.Cluster, st.Drives); err != nil {
			return nil, fmt.Errorf("format the pool: %w", err)
		}
		if err := s.store.apply(command{Op: opCreatePool, Pool: &pl}); err != nil {
			return nil, err
		}
		s.log.Info("pool created", "drives", len(pl.Drives))
	}
	f := api.FileSystem{Name: req.Name, UUID: uuid.NewString(), CapacityBytes: req.CapacityBytes,
		DataShards: p.Data, ParityShards: p.Parity, CreatedAt: time.Now().UTC()}
	// Commit first: a crash after the commit leaves a file system the
	// agent creates on its next start; the reverse order would leave one
	// on the drives that nothing names.
	if err := s.store.apply(command{Op: opCreateFS, FS: &f}); err != nil {
		return nil, err
	}
	if err := s.dp.CreateFS(r.Context(), f); err != nil {
		if derr := s.store.apply(command{Op: opDeleteFS, Name: f.Name}); derr != nil {
			s.log.Error("roll back file system", "fs", f.Name, "err", derr)
		}
		return nil, fmt.Errorf("create file system %q: %w", f.Name, err)
	}
	s.log.Info("file system created", "fs", f.Name, "uuid", f.UUID, "capacity", f.CapacityBytes, "protection", p.String())
	s.dp.FSUsage(&f)
	return f, nil
}

func (s *Server) deleteFS(r *http.Request) (any, error) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.store.State().FS(name)
	if !ok {
		return nil, s.noFS(name)
	}
	for _, m := range s.dp.Mounts() {
		if m.FS == name {
			return nil, fmt.Errorf("%w: file system %q is mounted on %s; unmount it first", ErrConflict, name, m.Dir)
		}
	}
	if err := s.dp.DeleteFS(r.Context(), f); err != nil {
		return nil, fmt.Errorf("delete file system %q: %w", name, err)
	}
	if err := s.store.apply(command{Op: opDeleteFS, Name: name}); err != nil {
		return nil, err
	}
	s.log.Info("file system deleted", "fs", name)
	return nil, nil
}

func (s *Server) noFS(name string) error {
	var names []string
	for _, f := range s.store.State().FileSystems {
		names = append(names, f.Name)
	}
	existing := "none exists yet (weft fs create)"
	if len(names) > 0 {
		existing = "existing: " + strings.Join(names, ", ")
	}
	return fmt.Errorf("%w: file system %q does not exist; %s", ErrNotFound, name, existing)
}

func (s *Server) listMounts(r *http.Request) (any, error) {
	m := s.dp.Mounts()
	if m == nil {
		m = []api.Mount{}
	}
	return m, nil
}

// SplitSource splits a mount source "host/fs".
func SplitSource(src string) (host, fs string, err error) {
	host, fs, ok := strings.Cut(src, "/")
	if !ok || host == "" || fs == "" || strings.Contains(fs, "/") {
		return "", "", fmt.Errorf("%w: mount source %q: accepted <host>/<filesystem>, e.g. localhost/myfs", ErrInvalid, src)
	}
	return host, fs, nil
}

// isLocalHost reports whether host names this machine.
func isLocalHost(host, self string) bool {
	if host == "localhost" || host == self {
		return true
	}
	if h, err := os.Hostname(); err == nil && host == h {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

func (s *Server) mount(r *http.Request) (any, error) {
	var req api.MountRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	host, name, err := SplitSource(req.Source)
	if err != nil {
		return nil, err
	}
	if !isLocalHost(host, s.cfg.Host) {
		return nil, fmt.Errorf("%w: host %q in %q is not this agent (%s): this version mounts file systems of the local cluster only; use localhost/%s", ErrInvalid, host, req.Source, s.cfg.Host, name)
	}
	o, err := mountopt.Parse(req.Options)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(req.Dir) {
		return nil, fmt.Errorf("%w: mount point %q is not an absolute path", ErrInvalid, req.Dir)
	}
	req.Dir = filepath.Clean(req.Dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.store.State().FS(name)
	if !ok {
		return nil, s.noFS(name)
	}
	for _, m := range s.dp.Mounts() {
		if m.Dir != req.Dir {
			continue
		}
		// The same mount again (fstab at boot after the agent restored
		// its mounts, a retried prolog): already done.
		if m.Source == req.Source && m.Options == o.String() {
			return m, nil
		}
		return nil, fmt.Errorf("%w: %s is already a weft mount of %s (-o %s)", ErrConflict, req.Dir, m.Source, m.Options)
	}
	m, err := s.dp.Mount(r.Context(), f, req, o)
	if err != nil {
		return nil, fmt.Errorf("mount %s on %s: %w", req.Source, req.Dir, err)
	}
	s.log.Info("mounted", "source", req.Source, "dir", req.Dir, "options", req.Options, "mode", m.Mode)
	return m, nil
}

func (s *Server) unmount(r *http.Request) (any, error) {
	var req api.UnmountRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	req.Dir = filepath.Clean(req.Dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dp.Unmount(r.Context(), req); err != nil {
		return nil, fmt.Errorf("unmount %s: %w", req.Dir, err)
	}
	s.log.Info("unmounted", "dir", req.Dir)
	return nil, nil
}

package mgmt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/mountopt"
)

// recordingDataplane stands in for the agent's drives and pool: these
// tests cover the store and the API; test/e2e covers them with weftd.
type recordingDataplane struct {
	created []string
}

func (d *recordingDataplane) CheckDrive(ctx context.Context, path string, force bool) (api.Drive, error) {
	if _, err := os.Stat(path); err != nil {
		return api.Drive{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return api.Drive{SizeBytes: 1 << 30}, nil
}
func (d *recordingDataplane) CreatePool(ctx context.Context, c api.Cluster, drives []api.Drive) error {
	return nil
}
func (d *recordingDataplane) CreateFS(ctx context.Context, f api.FileSystem) error {
	d.created = append(d.created, f.Name)
	return nil
}
func (d *recordingDataplane) DeleteFS(ctx context.Context, f api.FileSystem) error { return nil }
func (d *recordingDataplane) FSUsage(f *api.FileSystem)                            { f.State = "ok" }
func (d *recordingDataplane) DriveState(dr *api.Drive)                             {}
func (d *recordingDataplane) Mount(ctx context.Context, f api.FileSystem, req api.MountRequest, o mountopt.Options) (api.Mount, error) {
	return api.Mount{}, fmt.Errorf("%w: no frontend in this test", ErrInvalid)
}
func (d *recordingDataplane) Unmount(ctx context.Context, r api.UnmountRequest) error { return nil }
func (d *recordingDataplane) Mounts() []api.Mount                                     { return nil }
func (d *recordingDataplane) Describe(s *api.Status)                                  {}

func startServer(t *testing.T, dir string) (*api.Client, string, func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := OpenStore(context.Background(), dir, log)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := LoadOrCreateToken(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ServerConfig{Addr: "127.0.0.1:0", Token: tok, Host: "h1"}, st, &recordingDataplane{}, log)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	addr := s.ln.Addr().String()
	return api.NewClient(addr, tok), addr, func() {
		s.Shutdown(context.Background())
		st.Close()
	}
}

func TestStatePersists(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c, _, stop := startServer(t, dir)
	cl, err := c.CreateCluster(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCluster(ctx, "c2"); !api.IsCode(err, api.CodeConflict) {
		t.Errorf("second cluster create = %v, want conflict", err)
	}
	var paths []string
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i))
		os.WriteFile(p, nil, 0o600)
		paths = append(paths, p)
	}
	if _, err := c.AddDrives(ctx, paths, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddDrives(ctx, paths[:1], false); !api.IsCode(err, api.CodeConflict) {
		t.Errorf("re-adding a drive = %v, want conflict", err)
	}
	if _, err := c.RemoveDrive(ctx, paths[4]); err != nil {
		t.Fatalf("remove a pending drive: %v", err)
	}
	if _, err := c.AddDrives(ctx, paths[4:], false); err != nil {
		t.Fatalf("add it again: %v", err)
	}
	if _, err := c.CreateFS(ctx, api.CreateFSRequest{Name: "fs1", CapacityBytes: 1 << 30, Protection: "3+2"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"2+2", "17+2", "4+4"} {
		_, err := c.CreateFS(ctx, api.CreateFSRequest{Name: "bad", CapacityBytes: 1 << 30, Protection: p})
		if !api.IsCode(err, api.CodeInvalid) {
			t.Errorf("protection %s = %v, want invalid", p, err)
		}
	}
	stop()

	c, _, stop = startServer(t, dir)
	defer stop()
	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddDrives(ctx, []string{paths[0] + "x"}, false); !api.IsCode(err, api.CodeConflict) {
		t.Errorf("adding a drive to a formatted pool = %v, want conflict", err)
	}
	if s.Pool == nil || len(s.Pool.Drives) != 5 || s.Drives[0].State != "active" {
		t.Errorf("pool after first fs: %+v %+v", s.Pool, s.Drives)
	}
	if _, err := c.RemoveDrive(ctx, paths[0]); !api.IsCode(err, api.CodeConflict) {
		t.Errorf("removing a pool drive = %v, want conflict", err)
	}
	if s.Cluster == nil || s.Cluster.UUID != cl.UUID || len(s.Drives) != 5 || len(s.FileSystems) != 1 || s.FileSystems[0].Protection() != "3+2" {
		t.Fatalf("state after restart: %+v", s)
	}
	if err := c.DeleteFS(ctx, "fs1"); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteFS(ctx, "fs1")
	if !api.IsCode(err, api.CodeNotFound) || !strings.Contains(err.Error(), `"fs1" does not exist`) {
		t.Errorf("delete missing fs = %v", err)
	}
}

func TestTokenRequired(t *testing.T) {
	dir := t.TempDir()
	_, addr, stop := startServer(t, dir)
	defer stop()
	st, err := os.Stat(filepath.Join(dir, "token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st.Mode(), err)
	}
	for _, tok := range []string{"", "wrong"} {
		err := api.NewClient(addr, tok).Do(context.Background(), http.MethodGet, api.PathStatus, nil, nil)
		var e *api.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Errorf("token %q: %v, want 401", tok, err)
		}
	}
	resp, err := http.Get("http://" + addr + api.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "weft_raft_leader 1") {
		t.Errorf("metrics lack weft_raft_leader 1:\n%.500s", b)
	}
}

func TestTokenModeRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	os.WriteFile(p, []byte(strings.Repeat("a", 64)), 0o644)
	if _, err := LoadOrCreateToken(p); err == nil || !strings.Contains(err.Error(), "0644") {
		t.Errorf("LoadOrCreateToken(0644 file) = %v", err)
	}
}

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/mountopt"
)

// mountsFile records the agent's mounts in its state directory, so that a
// restarted agent (upgrade, crash, kill -9) serves them again: the dead
// FUSE mounts a crash leaves are detached and mounted afresh on the same
// directories. Files applications held open on a dead mount stay broken
// (ENOTCONN): the FUSE session died with the process.
const mountsFile = "mounts.json"

// savedMount is one record of mountsFile.
type savedMount struct {
	Source  string `json:"source"`
	Dir     string `json:"dir"`
	Options string `json:"options"`
}

// saveMountsLocked writes the mount records; mountsMu is held.
func (a *Agent) saveMountsLocked() {
	recs := make([]savedMount, 0, len(a.mounts))
	for _, mt := range a.mounts {
		recs = append(recs, savedMount{Source: mt.info.Source, Dir: mt.info.Dir, Options: mt.info.Options})
	}
	b, err := json.MarshalIndent(recs, "", "  ")
	if err == nil {
		err = writeFileSync(filepath.Join(a.cfg.StateDir, mountsFile), b)
	}
	if err != nil && (a.savedErr == nil || a.savedErr.Error() != err.Error()) {
		a.log.Error("record mounts for restart", "err", err)
	}
	a.savedErr = err
}

// restoreMounts mounts again what the previous run of the agent served.
// A record that no longer works (file system deleted, directory gone) is
// logged and dropped.
func (a *Agent) restoreMounts(ctx context.Context) {
	b, err := os.ReadFile(filepath.Join(a.cfg.StateDir, mountsFile))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var recs []savedMount
	if err == nil {
		err = json.Unmarshal(b, &recs)
	}
	if err != nil {
		a.log.Error("read mount records; no mount restored", "err", err)
		return
	}
	st := a.store.State()
	for _, r := range recs {
		log := a.log.With("source", r.Source, "dir", r.Dir)
		_, name, ok := splitSource(r.Source)
		f, found := st.FS(name)
		if !ok || !found {
			log.Warn("mount not restored: its file system is gone")
			continue
		}
		o, err := mountopt.Parse(r.Options)
		if err != nil {
			log.Warn("mount not restored", "err", err)
			continue
		}
		if _, err := a.Mount(ctx, f, api.MountRequest{Source: r.Source, Dir: r.Dir, Options: r.Options}, o); err != nil {
			log.Error("mount not restored", "err", err)
			continue
		}
		log.Info("mount restored")
	}
	a.mountsMu.Lock()
	a.saveMountsLocked()
	a.mountsMu.Unlock()
}

// splitSource splits "host/fs".
func splitSource(src string) (host, fs string, ok bool) {
	for i := 0; i < len(src); i++ {
		if src[i] == '/' {
			return src[:i], src[i+1:], i > 0 && i+1 < len(src)
		}
	}
	return "", "", false
}

// writeFileSync replaces path durably: temp file, fsync, rename, fsync of
// the directory.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
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

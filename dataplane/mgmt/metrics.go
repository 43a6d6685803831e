package mgmt

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descDrives     = prometheus.NewDesc("weft_drives", "Drives in the pool by state.", []string{"state"}, nil)
	descFS         = prometheus.NewDesc("weft_filesystems", "File systems of the cluster.", nil, nil)
	descFSCap      = prometheus.NewDesc("weft_fs_capacity_bytes", "Capacity of a file system.", []string{"fs"}, nil)
	descFSUsed     = prometheus.NewDesc("weft_fs_used_bytes", "Bytes used in a file system.", []string{"fs"}, nil)
	descFSFiles    = prometheus.NewDesc("weft_fs_files", "Inodes in use in a file system.", []string{"fs"}, nil)
	descMounts     = prometheus.NewDesc("weft_mounts", "Mounts served by this agent.", nil, nil)
	descRaftIndex  = prometheus.NewDesc("weft_raft_applied_index", "Last raft log index applied to the cluster configuration.", nil, nil)
	descRaftLeader = prometheus.NewDesc("weft_raft_leader", "1 when this agent leads the management raft group.", nil, nil)
)

// stateCollector exports the cluster configuration and the live state of
// drives, file systems and mounts at scrape time.
type stateCollector struct{ s *Server }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDrives, descFS, descFSCap, descFSUsed, descFSFiles, descMounts, descRaftIndex, descRaftLeader} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.store.State()
	byState := map[string]int{"active": 0}
	for _, d := range c.s.liveDrives(st.Drives) {
		byState[d.State]++
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(descDrives, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(descFS, prometheus.GaugeValue, float64(len(st.FileSystems)))
	for _, f := range c.s.liveFS(st.FileSystems) {
		ch <- prometheus.MustNewConstMetric(descFSCap, prometheus.GaugeValue, float64(f.CapacityBytes), f.Name)
		ch <- prometheus.MustNewConstMetric(descFSUsed, prometheus.GaugeValue, float64(f.UsedBytes), f.Name)
		ch <- prometheus.MustNewConstMetric(descFSFiles, prometheus.GaugeValue, float64(f.Files), f.Name)
	}
	ch <- prometheus.MustNewConstMetric(descMounts, prometheus.GaugeValue, float64(len(c.s.dp.Mounts())))
	r := c.s.store.Raft()
	ch <- prometheus.MustNewConstMetric(descRaftIndex, prometheus.CounterValue, float64(r.AppliedIndex))
	leader := 0.0
	if r.State == "Leader" {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(descRaftLeader, prometheus.GaugeValue, leader)
}

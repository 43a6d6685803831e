package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-fs/weft/dataplane/messenger"
)

var (
	descMsgPackets = prometheus.NewDesc("weft_messenger_packets_total", "Packets through a role's messenger.", []string{"role", "name", "dir"}, nil)
	descMsgBytes   = prometheus.NewDesc("weft_messenger_bytes_total", "Bytes through a role's messenger.", []string{"role", "name", "dir"}, nil)
	descMsgRetx    = prometheus.NewDesc("weft_messenger_retransmits_total", "Retransmitted packets.", []string{"role", "name"}, nil)
	descMsgBad     = prometheus.NewDesc("weft_messenger_malformed_total", "Malformed packets dropped (bad checksum, short, ...).", []string{"role", "name"}, nil)
	descMsgRDMA    = prometheus.NewDesc("weft_rdma_eligible_bytes_total", "Bytes of RDMA-eligible messages (reads >= 32 KiB, writes >= 256 KiB), carried on the bulk path.", []string{"role", "name", "dir"}, nil)
	descDegraded   = prometheus.NewDesc("weft_pool_reconstructed_reads_total", "Stripe reads that needed parity to rebuild missing or corrupt chunks.", nil, nil)
	descPoolDeg    = prometheus.NewDesc("weft_pool_degraded", "1 while a drive of the pool is missing, failed or returned bad data.", nil, nil)
)

// collector exports the messengers' and the pool's counters at scrape time.
type collector struct{ a *Agent }

func (a *Agent) registerMetrics(reg *prometheus.Registry) { reg.MustRegister(collector{a}) }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMsgPackets, descMsgBytes, descMsgRetx, descMsgBad, descMsgRDMA, descDegraded, descPoolDeg} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	emit := func(role, name string, s messenger.Stats) {
		ch <- prometheus.MustNewConstMetric(descMsgPackets, prometheus.CounterValue, float64(s.PacketsIn), role, name, "in")
		ch <- prometheus.MustNewConstMetric(descMsgPackets, prometheus.CounterValue, float64(s.PacketsOut), role, name, "out")
		ch <- prometheus.MustNewConstMetric(descMsgBytes, prometheus.CounterValue, float64(s.BytesIn), role, name, "in")
		ch <- prometheus.MustNewConstMetric(descMsgBytes, prometheus.CounterValue, float64(s.BytesOut), role, name, "out")
		ch <- prometheus.MustNewConstMetric(descMsgRetx, prometheus.CounterValue, float64(s.Retransmits), role, name)
		ch <- prometheus.MustNewConstMetric(descMsgBad, prometheus.CounterValue, float64(s.Malformed), role, name)
		ch <- prometheus.MustNewConstMetric(descMsgRDMA, prometheus.CounterValue, float64(s.RDMAEligibleReadBytes), role, name, "read")
		ch <- prometheus.MustNewConstMetric(descMsgRDMA, prometheus.CounterValue, float64(s.RDMAEligibleWriteBytes), role, name, "write")
	}
	a.dataMu.Lock()
	for name, s := range a.servers {
		emit("compute", name, s.m.Stats())
	}
	p := a.pool
	a.dataMu.Unlock()
	a.mountsMu.Lock()
	for dir, mt := range a.mounts {
		emit("frontend", dir, mt.m.Stats())
	}
	a.mountsMu.Unlock()
	if p != nil {
		h := p.Health()
		ch <- prometheus.MustNewConstMetric(descDegraded, prometheus.CounterValue, float64(h.ReconstructedReads))
		deg := 0.0
		if h.Degraded {
			deg = 1
		}
		ch <- prometheus.MustNewConstMetric(descPoolDeg, prometheus.GaugeValue, deg)
	}
}

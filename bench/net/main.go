// Command net benchmarks weft's transports between two network namespaces
// joined by veth through a bridge (MTU 9000), built and removed by the run:
//
//  1. a raw probe (no weft protocol): small-packet rate of AF_XDP to AF_XDP,
//     weft's batched kernel UDP transport and a plain Go UDPConn pair (busy
//     sender and receiver threads), and 4 KiB ping-pong latency of the AF_XDP
//     and UDP transports sleeping in poll(2) like an Adaptive poller;
//  2. weft's messenger over AF_XDP and over its kernel UDP fallback, against
//     plain kernel UDP sockets: messages/s and GB/s for 64 B, 4 KiB, 64 KiB
//     and 1 MiB messages, and 4 KiB request/response p50/p99.
//
// Every figure is measured in the same run as its reference and printed
// with the ratio. Needs root (network namespaces, XDP).
package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/netstack/xdpprog"
)

const (
	benchPortRaw   = 7480 // raw probes
	benchPortWeft  = 7481 // messengers
	benchPortPlain = 7482 // plain kernel UDP reference
)

func main() {
	dur := flag.Duration("d", 2*time.Second, "duration of each throughput run")
	probeOnly := flag.Bool("probe", false, "run only the raw small-packet probe")
	skipProbe := flag.Bool("noprobe", false, "skip the raw probe, run only the messenger comparison")
	dedicated := flag.Bool("dedicated", false, "busy-polling pollers (dedicated cores) instead of adaptive")
	rounds := flag.Int("rounds", 3, "interleaved rounds per measurement; medians are printed")
	probeSize := flag.Int("probesize", 64, "UDP payload bytes of the raw probe (up to 8972)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/net:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	mode := poller.Adaptive
	if *dedicated {
		mode = poller.Dedicated
	}
	if err := run(*dur, *probeOnly, *skipProbe, mode, max(*rounds, 1), min(max(*probeSize, 1), 8972)); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench/net:", err)
		os.Exit(1)
	}
}

func run(d time.Duration, probeOnly, skipProbe bool, mode poller.Mode, rounds, size int) error {
	n, err := testkit.SetupNet(testkit.NetConfig{Hosts: 2, MTU: 9000})
	if err != nil {
		return err
	}
	defer n.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		<-sig
		n.Close() // remove the namespaces even when interrupted
		os.Exit(130)
	}()
	fmt.Printf("network: 2 namespaces (%s, %s), veth through a bridge, MTU 9000, %d ms per run\n\n",
		n.Hosts[0].NS, n.Hosts[1].NS, d.Milliseconds())

	fmt.Printf("load average at start: %s\n", loadAvg())
	if !skipProbe {
		if err := rawProbe(n, d, rounds, size); err != nil {
			return err
		}
	}
	if probeOnly {
		fmt.Printf("\nload average at end: %s\n", loadAvg())
		return nil
	}
	if err := benchWeft(n, d, mode, rounds); err != nil {
		return err
	}
	fmt.Printf("\nload average at end: %s (2 cores shared with other work: figures are noisy)\n", loadAvg())
	return nil
}

// rawProbe compares the transports without weft's protocol.
func rawProbe(n *testkit.Net, d time.Duration, rounds, size int) error {
	fmt.Printf("== raw probe: %d-byte UDP payloads, one busy sender, one busy receiver, median of %d rounds ==\n", size, rounds)
	type prober func() (rawResult, error)
	probes := []prober{
		func() (rawResult, error) { return probePlainUDP(n, size, d) },
		func() (rawResult, error) { return probeUDPBatch(n, size, d) },
		func() (rawResult, error) { return probeXDP(n, xdpprog.ModeNative, size, d) },
		func() (rawResult, error) { return probeXDP(n, xdpprog.ModeGeneric, size, d) },
	}
	runs := make([][]rawResult, len(probes))
	for r := 0; r < rounds; r++ {
		for i, p := range probes {
			res, err := p()
			if err != nil {
				return err
			}
			runs[i] = append(runs[i], res)
		}
	}
	results := make([]rawResult, len(probes))
	for i, rs := range runs {
		slices.SortFunc(rs, func(a, b rawResult) int { return cmp.Compare(a.rxPerS, b.rxPerS) })
		results[i] = rs[len(rs)/2]
	}
	plain, batch := results[0], results[1]
	fmt.Printf("%-48s %14s %14s %10s %10s\n", "transport", "rx pkts/s", "tx pkts/s", "vs plain", "vs batch")
	for _, r := range results {
		fmt.Printf("%-48s %14.0f %14.0f %9.2fx %9.2fx  %s\n", r.name, r.rxPerS, r.txPerS, r.rxPerS/plain.rxPerS, r.rxPerS/batch.rxPerS, r.dropped)
	}
	fmt.Printf("\n4 KiB ping-pong without weft's protocol, both sides sleeping in poll(2) when idle (%d round trips):\n", rawRTTSamples)
	u50, u99, err := rawRTT(n, "udp")
	if err != nil {
		return err
	}
	x50, x99, err := rawRTT(n, "xdp")
	if err != nil {
		return err
	}
	fmt.Printf("%-48s p50 %8v  p99 %8v\n", "kernel UDP (recvmmsg/sendmmsg transport)", u50.Round(time.Microsecond), u99.Round(time.Microsecond))
	fmt.Printf("%-48s p50 %8v  p99 %8v   ratio p50 %.2fx p99 %.2fx (lower is better)\n", "AF_XDP transport",
		x50.Round(time.Microsecond), x99.Round(time.Microsecond), float64(x50)/float64(u50), float64(x99)/float64(u99))
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Command net benchmarks weft's transports between two network namespaces
// joined by veth through a bridge (MTU 9000), built and removed by the run:
//
//  1. a raw small-packet probe (no weft protocol): AF_XDP to AF_XDP, weft's
//     batched kernel UDP transport, and a plain Go UDPConn pair;
//  2. weft's messenger over AF_XDP and over its kernel UDP fallback, against
//     plain kernel UDP sockets: messages/s and GB/s for 64 B, 4 KiB, 64 KiB
//     and 1 MiB messages, and 4 KiB request/response p50/p99.
//
// Every figure is measured in the same run as its reference and printed
// with the ratio. Needs root (network namespaces, XDP).
package main

import (
	"flag"
	"fmt"
	"os"
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
	dedicated := flag.Bool("dedicated", false, "busy-polling pollers (dedicated cores) instead of adaptive")
	flag.Parse()
	mode := poller.Adaptive
	if *dedicated {
		mode = poller.Dedicated
	}
	if err := run(*dur, *probeOnly, mode); err != nil {
		fmt.Fprintln(os.Stderr, "bench/net:", err)
		os.Exit(1)
	}
}

func run(d time.Duration, probeOnly bool, mode poller.Mode) error {
	n, err := testkit.SetupNet(testkit.NetConfig{Hosts: 2, MTU: 9000})
	if err != nil {
		return err
	}
	defer n.Close()
	fmt.Printf("network: 2 namespaces (%s, %s), veth through a bridge, MTU 9000, %d ms per run\n\n",
		n.Hosts[0].NS, n.Hosts[1].NS, d.Milliseconds())

	fmt.Println("== raw small-packet probe: 64-byte UDP payloads, one busy sender, one busy receiver ==")
	const size = 64
	plain, err := probePlainUDP(n, size, d)
	if err != nil {
		return err
	}
	batch, err := probeUDPBatch(n, size, d)
	if err != nil {
		return err
	}
	results := []rawResult{plain, batch}
	for _, m := range []xdpprog.Mode{xdpprog.ModeNative, xdpprog.ModeGeneric} {
		r, err := probeXDP(n, m, size, d)
		if err != nil {
			return fmt.Errorf("af_xdp probe %s: %w", m, err)
		}
		results = append(results, r)
	}
	fmt.Printf("%-48s %14s %14s %10s %10s\n", "transport", "rx pkts/s", "tx pkts/s", "vs plain", "vs batch")
	for _, r := range results {
		fmt.Printf("%-48s %14.0f %14.0f %9.2fx %9.2fx  %s\n", r.name, r.rxPerS, r.txPerS, r.rxPerS/plain.rxPerS, r.rxPerS/batch.rxPerS, r.dropped)
	}
	if probeOnly {
		return nil
	}
	return benchWeft(n, d, mode)
}

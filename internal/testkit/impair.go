package testkit

// impair.go degrades a host's egress like tc netem's "loss/duplicate/
// reorder", for kernels built without netem (this one): a tcx egress BPF
// program, built with cilium/ebpf's assembler, drops, clones and
// reclassifies IPv4 packets at random, and an HTB qdisc holds the
// reclassified ones in a slow class so later packets overtake them.
//
//	wx0 egress ─► tcx prog ─┬─ loss %   → TC_ACT_SHOT
//	                        ├─ dup %    → bpf_clone_redirect(wx0, egress)
//	                        └─ reorder% → skb->priority = 1:20
//	            HTB 1: ─┬─ 1:10 fast (default)
//	                    └─ 1:20 slow (rate-limited: queued, overtaken)
//
// Everything stays inside the host's namespace and goes away with it.

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// Impairment is the fault mix, each in percent of IPv4 packets.
type Impairment struct {
	LossPct, DupPct, ReorderPct int
	// SlowRateMbit is the rate of the reorder class (0 = 200 Mbit/s).
	SlowRateMbit int
}

const (
	skbProtocolOff = 16 // offsetof(struct __sk_buff, protocol)
	skbPriorityOff = 32 // offsetof(struct __sk_buff, priority)
	ethPIPBE       = 0x0008
	tcActOK        = 0
	tcActShot      = 2
	htbSlowClass   = 0x10020 // 1:20
)

func impairInstructions(im Impairment, ifindex int) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, skbProtocolOff, asm.Word),
		asm.JNE.Imm(asm.R2, ethPIPBE, "ok"),
		asm.FnGetPrandomU32.Call(),
		asm.Mod.Imm(asm.R0, 100),
		asm.JGE.Imm(asm.R0, int32(im.LossPct), "nodrop"),
		asm.Mov.Imm(asm.R0, tcActShot),
		asm.Return(),
		asm.FnGetPrandomU32.Call().WithSymbol("nodrop"),
		asm.Mod.Imm(asm.R0, 100),
		asm.JGE.Imm(asm.R0, int32(im.DupPct), "nodup"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, int32(ifindex)),
		asm.Mov.Imm(asm.R3, 0), // egress
		asm.FnCloneRedirect.Call(),
		asm.FnGetPrandomU32.Call().WithSymbol("nodup"),
		asm.Mod.Imm(asm.R0, 100),
		asm.JGE.Imm(asm.R0, int32(im.ReorderPct), "ok"),
		asm.Mov.Imm(asm.R2, htbSlowClass),
		asm.StoreMem(asm.R6, skbPriorityOff, asm.R2, asm.Word),
		asm.Mov.Imm(asm.R0, tcActOK).WithSymbol("ok"),
		asm.Return(),
	}
}

// Impair applies im to the egress of h's interface until the test ends.
// The BPF link is held by t's cleanup: dropping it would let the garbage
// collector close it and silently end the impairment.
func (h *Host) Impair(t testing.TB, im Impairment) error {
	remove, err := h.impair(im)
	if err != nil {
		return err
	}
	t.Cleanup(func() { remove() })
	return nil
}

func (h *Host) impair(im Impairment) (remove func() error, err error) {
	if im.SlowRateMbit <= 0 {
		im.SlowRateMbit = 200
	}
	tc := func(args ...string) error {
		out, err := exec.Command("ip", append([]string{"netns", "exec", h.NS, "tc"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tc %s in %s: %v: %s", strings.Join(args, " "), h.NS, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := tc("qdisc", "replace", "dev", h.Iface, "root", "handle", "1:", "htb", "default", "10"); err != nil {
		return nil, err
	}
	if err := tc("class", "add", "dev", h.Iface, "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"); err != nil {
		return nil, err
	}
	if err := tc("class", "add", "dev", h.Iface, "parent", "1:", "classid", "1:20", "htb", "rate",
		fmt.Sprintf("%dmbit", im.SlowRateMbit)); err != nil {
		return nil, err
	}
	var l link.Link
	err = h.Do(func() error {
		ifc, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "wpro_impair", Type: ebpf.SchedCLS, License: "GPL",
			Instructions: impairInstructions(im, ifc.Index),
		})
		if err != nil {
			return fmt.Errorf("load impairment program: %w", err)
		}
		defer prog.Close()
		l, err = link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: prog, Attach: ebpf.AttachTCXEgress})
		if err != nil {
			return fmt.Errorf("attach tcx egress on %s: %w", h.Iface, err)
		}
		return nil
	})
	if err != nil {
		tc("qdisc", "del", "dev", h.Iface, "root")
		return nil, err
	}
	return func() error {
		err := l.Close()
		tc("qdisc", "del", "dev", h.Iface, "root")
		return err
	}, nil
}

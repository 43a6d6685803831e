package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/weft-fs/weft/nvme"
)

// region splits the target between the engines.
type region struct {
	weftBlocks uint64 // weft uses data blocks [0, weftBlocks)
	fioOffset  uint64 // fio uses bytes [fioOffset, fioOffset+bytes)
	bytes      uint64
}

// weft drives one job through the poll-mode API.
type weft struct {
	d      *nvme.Drive
	r      region
	arena  []byte
	reqs   []nvme.Request
	out    []nvme.Completion
	start  []int64 // per tag: submit time, ns since run start
	lat    []int64 // samples, ns
	rng    *rand.Rand
	seqPos uint64
}

const arenaBytes = 8 << 20 // 128 x 4 KiB or 8 x 1 MiB buffers in flight

func newWeft(d *nvme.Drive, r region) *weft {
	w := &weft{d: d, r: r, arena: nvme.AlignedBuffer(arenaBytes),
		out: make([]nvme.Completion, 256), start: make([]int64, 256),
		lat: make([]int64, 0, samplesMax), rng: rand.New(rand.NewPCG(1, 2))}
	for i := range w.arena {
		w.arena[i] = byte(i*7 + i>>12)
	}
	if err := d.RegisterBuffers([][]byte{w.arena}); err != nil {
		panic(err)
	}
	return w
}

// fill writes weft's whole region once.
func (w *weft) fill() error {
	const bs = 1 << 20
	j := job{write: true, seq: true, bs: bs, qd: 8}
	w.seqPos = 0
	total := w.r.weftBlocks * nvme.BlockSize / bs
	_, err := w.loop(j, func(done uint64) bool { return done >= total }, false)
	if err == nil {
		err = w.d.Flush()
	}
	return err
}

// next returns the request for slot i of job j.
func (w *weft) next(j job, i int) nvme.Request {
	blocks := uint64(j.bs / nvme.BlockSize)
	var blk uint64
	if j.seq {
		blk = w.seqPos
		w.seqPos += blocks
		if w.seqPos+blocks > w.r.weftBlocks {
			w.seqPos = 0
		}
	} else {
		blk = randomBlock(w.rng, w.r.weftBlocks, blocks, j.qd, i)
	}
	op := nvme.OpRead
	if j.write {
		op = nvme.OpWrite
	}
	return nvme.Request{Op: op, Block: blk, Buf: w.arena[i*j.bs : (i+1)*j.bs], Tag: uint64(i)}
}

// loop keeps j.qd requests in flight until stop says so and returns the
// number of completed requests. Requests freed by one Poll are resubmitted
// together by one Submit (one io_uring_enter), as fio does.
func (w *weft) loop(j job, stop func(done uint64) bool, record bool) (uint64, error) {
	batch := make([]nvme.Request, 0, j.qd)
	t0 := time.Now()
	for i := range j.qd {
		batch = append(batch, w.next(j, i))
		w.start[i] = 0
	}
	var done, inflight uint64
	stopping := false
	for {
		if len(batch) > 0 && !stopping {
			n, err := w.d.Submit(batch)
			if err != nil {
				return done, err
			}
			inflight += uint64(n)
			batch = batch[:copy(batch, batch[n:])]
		}
		k := w.d.Poll(w.out)
		if k == 0 {
			if inflight == 0 {
				return done, nil
			}
			if err := w.d.Wait(); err != nil {
				return done, err
			}
			continue
		}
		now := int64(time.Since(t0))
		for _, c := range w.out[:k] {
			if c.Err != nil {
				return done, fmt.Errorf("tag %d: %w", c.Tag, c.Err)
			}
			inflight--
			done++
			if record && len(w.lat) < cap(w.lat) {
				w.lat = append(w.lat, now-w.start[c.Tag])
			}
		}
		if !stopping && stop(done) {
			stopping = true
		}
		if stopping {
			if inflight == 0 {
				return done, nil
			}
			continue
		}
		for _, c := range w.out[:k] {
			i := int(c.Tag)
			batch = append(batch, w.next(j, i))
			w.start[i] = now
		}
	}
}

func (w *weft) run(j job, d time.Duration) (result, error) {
	// A poller owns its OS thread, as dataplane pollers do: io_uring
	// completes requests through task work on the submitting thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w.lat = w.lat[:0]
	var end time.Time
	stop := func(uint64) bool { return time.Now().After(end) }
	// Warm up briefly, then measure.
	end = time.Now().Add(d / 8)
	if _, err := w.loop(j, stop, false); err != nil {
		return result{}, err
	}
	w.lat = w.lat[:0]
	t0 := time.Now()
	end = t0.Add(d)
	n, err := w.loop(j, stop, true)
	el := time.Since(t0)
	if err != nil {
		return result{}, err
	}
	return summarize(n, j.bs, el, w.lat), nil
}

// runBlocking runs j with j.qd goroutines calling ReadBlocks/WriteBlocks.
func (w *weft) runBlocking(j job, d time.Duration) (result, error) {
	var mu sync.Mutex
	var lat []int64
	var total uint64
	var firstErr error
	t0 := time.Now()
	end := t0.Add(d)
	var wg sync.WaitGroup
	for g := range j.qd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			buf := w.arena[g*j.bs : (g+1)*j.bs]
			blocks := uint64(j.bs / nvme.BlockSize)
			my := make([]int64, 0, 1<<16)
			var n uint64
			seq := uint64(g) * (w.r.weftBlocks / uint64(j.qd)) / blocks * blocks
			for time.Now().Before(end) {
				blk := randomBlock(rng, w.r.weftBlocks, blocks, j.qd, g)
				if j.seq {
					blk = seq
					seq += blocks
					if seq+blocks > w.r.weftBlocks {
						seq = 0
					}
				}
				s := time.Now()
				var err error
				if j.write {
					err = w.d.WriteBlocks(blk, buf)
				} else {
					err = w.d.ReadBlocks(blk, buf)
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				if len(my) < cap(my) {
					my = append(my, int64(time.Since(s)))
				}
				n++
			}
			mu.Lock()
			lat = append(lat, my...)
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	return summarize(total, j.bs, time.Since(t0), lat), nil
}

func summarize(n uint64, bs int, el time.Duration, lat []int64) result {
	slices.Sort(lat)
	r := result{iops: float64(n) / el.Seconds(), bytesSec: float64(n) * float64(bs) / el.Seconds()}
	if len(lat) > 0 {
		r.p50 = time.Duration(lat[len(lat)*50/100])
		r.p99 = time.Duration(lat[len(lat)*99/100])
	}
	return r
}

// randomBlock picks a random aligned extent of n blocks in [0, total) for
// slot i of qd. Slot i only uses extents whose index is i modulo qd, so two
// writes in flight never hit the same block: their completions could
// otherwise land in either order and leave a checksum that does not match
// the data on disk (the file system above never does this; it writes
// copy-on-write).
func randomBlock(rng *rand.Rand, total, n uint64, qd, i int) uint64 {
	extents := total / n
	per := extents / uint64(qd)
	return (rng.Uint64N(per)*uint64(qd) + uint64(i)) * n
}

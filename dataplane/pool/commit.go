package pool

import (
	"fmt"
	"sync"
	"time"

	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/nvme"
)

// committer batches metadata records into journal entries (group
// commit). Operations append their records while holding the bucket
// locks that ordered them, so journal order is apply order; the run
// goroutine writes batches out, and is the only user of the journal
// writer and the only taker of checkpoints while the pool runs.
//
// A batch becomes durable in three steps: every data drive written since
// the last commit is flushed (the stripes a record points to are on the
// media before the record), the entry is written to every journal mirror
// and those are flushed, then the extents the batch freed go back to the
// allocators.
type committer struct {
	p *Pool

	mu      sync.Mutex
	work    *sync.Cond // run waits for records
	done    *sync.Cond // sync waits for durability
	buf     []byte     // encoded records of the batch being filled
	ends    []int      // end offset of each operation in buf
	frees   []journal.Chunk
	ticket  uint64 // batch being filled
	durable uint64 // last batch on the media
	waiters int
	stopped bool
	exited  bool
	err     error

	// Owned by the run goroutine (and by Open/Create/Close before and
	// after it runs).
	w          *journal.Writer
	wbuf       []byte
	sinceCkpt  int64
	ckptSeq    uint64
	ckptChunks []journal.Chunk
	kick       chan struct{}
}

func (c *committer) init(p *Pool, seg journal.Segment, seq uint64) {
	c.p = p
	c.work = sync.NewCond(&c.mu)
	c.done = sync.NewCond(&c.mu)
	c.ticket = 1
	c.kick = make(chan struct{}, 1)
	c.wbuf = nvme.AlignedBuffer(entryBytesMax)
	c.w = journal.NewWriter(p.devs, seg, seq, p.allocSegment, c.wbuf)
}

// log appends one operation's records and the extents it frees, and
// returns the ticket to sync on. Callers hold the locks that order the
// operation.
func (c *committer) log(frees []journal.Chunk, recs ...*journal.Record) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(recs) == 0 && len(frees) == 0 {
		return c.ticket
	}
	// Frees alone make an empty operation: the batch carrying it commits
	// after the batches holding the records that made them unreachable,
	// so the space returns once those are durable.
	c.frees = append(c.frees, frees...)
	for _, r := range recs {
		c.buf = journal.Append(c.buf, r)
	}
	c.ends = append(c.ends, len(c.buf))
	c.work.Signal()
	return c.ticket
}

// sync waits until batch t is durable.
func (c *committer) sync(t uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.durable >= t || (t == c.ticket && len(c.ends) == 0) {
		return c.err
	}
	c.waiters++
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.work.Signal()
	for c.durable < t && c.err == nil && !c.exited {
		c.done.Wait()
	}
	c.waiters--
	if c.err != nil {
		return c.err
	}
	if c.durable < t {
		return ErrClosed
	}
	return nil
}

// syncAll waits until everything logged so far is durable.
func (c *committer) syncAll() error {
	c.mu.Lock()
	t := c.ticket
	if len(c.ends) == 0 {
		t--
	}
	c.mu.Unlock()
	return c.sync(t)
}

func (c *committer) seqs() (uint64, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		return 0, c.ckptSeq
	}
	return c.w.Seq(), c.ckptSeq
}

func (c *committer) finalErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *committer) stopAndWait() {
	c.mu.Lock()
	c.stopped = true
	c.work.Broadcast()
	c.mu.Unlock()
}

// take removes the batch being filled and returns it with its ticket.
// Callers hold mu.
func (c *committer) take() (buf []byte, ends []int, frees []journal.Chunk, t uint64) {
	buf, ends, frees, t = c.buf, c.ends, c.frees, c.ticket
	c.buf, c.ends, c.frees = nil, nil, nil
	c.ticket++
	return
}

func (c *committer) run() {
	defer c.p.wg.Done()
	window := c.p.opts.GroupCommit
	timer := time.NewTimer(window)
	for {
		c.mu.Lock()
		for len(c.ends) == 0 && !c.stopped {
			c.work.Wait()
		}
		if len(c.ends) == 0 && c.stopped {
			c.exited = true
			c.done.Broadcast()
			c.mu.Unlock()
			return
		}
		if c.waiters == 0 && !c.stopped {
			// Let more operations join the batch unless someone waits.
			c.mu.Unlock()
			timer.Reset(window)
			select {
			case <-timer.C:
			case <-c.kick:
				if !timer.Stop() {
					<-timer.C
				}
			}
			c.mu.Lock()
		}
		buf, ends, frees, t := c.take()
		c.mu.Unlock()

		err := c.commit(buf, ends)
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = fmt.Errorf("%w: %v", ErrJournal, err)
			c.p.log.Error("journal commit failed; the pool refuses further changes", "err", err)
		}
		if err == nil {
			c.durable = t
		}
		c.done.Broadcast()
		c.mu.Unlock()
		if err == nil {
			c.p.freeChunks(frees)
			if c.sinceCkpt > c.p.opts.CheckpointJournalBytes {
				if err := c.p.checkpoint(); err != nil {
					// Retry after as much journal again, not after every commit.
					c.sinceCkpt = 0
					c.p.log.Error("checkpoint", "err", err)
				}
			}
		}
	}
}

// commit writes buf as one or more journal entries, split at operation
// boundaries.
func (c *committer) commit(buf []byte, ends []int) error {
	c.p.flushDrives()
	max := c.w.PayloadMax()
	start := 0
	for start < len(buf) {
		end := start
		for _, e := range ends {
			if e > start && e-start <= max {
				end = e
			}
		}
		if end == start {
			return fmt.Errorf("operation of %d bytes exceeds a journal entry", ends[0]-start)
		}
		if _, err := c.w.Append(buf[start:end]); err != nil {
			return err
		}
		c.sinceCkpt += int64(end - start)
		start = end
	}
	return nil
}

// checkpoint writes a snapshot of all metadata and points every drive's
// app root at it and at a fresh journal segment; it then frees the
// previous checkpoint and journal. It runs on the committer goroutine, or
// before it starts, or after it stopped.
func (p *Pool) checkpoint() error {
	c := &p.c
	// Cut: with every lock held no operation is half-applied, so the
	// snapshot includes exactly the records logged so far.
	p.mu.Lock()
	fss := make([]*FS, 0, len(p.byID))
	for _, f := range p.byID {
		fss = append(fss, f)
	}
	sortFS(fss)
	for _, f := range fss {
		for _, b := range f.buckets {
			b.Mu.Lock()
		}
	}
	c.mu.Lock()
	bbuf, bends, frees, t := c.take()
	c.mu.Unlock()
	payload := p.snapshot(fss)
	for _, f := range fss {
		for _, b := range f.buckets {
			b.Mu.Unlock()
		}
	}
	p.mu.Unlock()

	// A checkpoint that cannot be written (no contiguous space for it)
	// is not fatal: the batch it took goes to the journal as usual and
	// the old checkpoint stays current.
	fail := func(err error) error {
		cerr := c.commit(bbuf, bends)
		c.mu.Lock()
		if cerr != nil && c.err == nil {
			c.err = fmt.Errorf("%w: %v", ErrJournal, cerr)
		}
		if cerr == nil {
			c.durable = t
		}
		c.done.Broadcast()
		c.mu.Unlock()
		if cerr == nil {
			p.freeChunks(frees)
		}
		return err
	}
	p.flushDrives()
	seq := c.w.Seq()
	blocks := journal.CheckpointBlocks(len(payload))
	chunks, err := p.allocChunks(p.mirrors(), blocks, int(seq), nil)
	if err != nil {
		return fail(fmt.Errorf("checkpoint of %d bytes: %w", len(payload), err))
	}
	cbuf := nvme.AlignedBuffer(int(blocks) * journal.BlockBytes)
	copy(cbuf[journal.BlockBytes:], payload)
	if err := journal.WriteCheckpoint(p.devs, chunks, seq, len(payload), cbuf); err != nil {
		p.freeChunks(chunks)
		return fail(err)
	}
	seg, err := p.allocSegment()
	if err != nil {
		p.freeChunks(chunks)
		return fail(err)
	}
	root := appRoot{Pool: p.id, Drives: uint16(len(p.slots)), CkptSeq: seq, CkptChunks: chunks, Journal: seg}
	written := 0
	for _, s := range p.slots {
		if s.dev == nil {
			continue
		}
		root.Drive = s.index
		if err := s.dev.SetAppRoot(root.encode()); err != nil {
			s.errs.Add(1)
			p.log.Error("set app root", "drive", s.index, "err", err)
			continue
		}
		written++
	}
	if written == 0 {
		p.freeChunks(chunks)
		p.freeChunks(seg.Chunks)
		return fail(fmt.Errorf("no drive took the new app root"))
	}
	// The old checkpoint and journal are unreachable now.
	p.freeChunks(c.ckptChunks)
	for _, s := range c.w.Retired {
		p.freeChunks(s.Chunks)
	}
	p.freeChunks(c.w.Segment().Chunks)
	p.freeChunks(frees)
	c.ckptChunks, c.ckptSeq, c.sinceCkpt = chunks, seq, 0
	c.mu.Lock()
	c.w = journal.NewWriter(p.devs, seg, seq, p.allocSegment, c.wbuf)
	c.durable = t
	c.done.Broadcast()
	c.mu.Unlock()
	return nil
}

// Package pool is weft's compute-side file system: a pool of drives
// holding named file systems, each implementing fs.Service.
//
//	Pool ─ slots (one nvme drive + allocator each) ─ committer (journal, checkpoints)
//	  └─ FS "name" (N+P, capacity bytes) ─ 64 buckets ─ inodes ─ stripe map ─ chunks on drives
//
// # Data
//
// Writes land in a bounded write-back cache of stripes (Options.CacheBytes,
// at most 64 stripes per file); a flush encodes parity, writes the whole
// stripe to newly allocated chunks (copy on write: a live block is never
// overwritten) and logs the new mapping; the old chunks return to the
// allocator only after that record is durable. Partial-stripe writes read
// the stripe first (read-modify-write); holes have no stripe; truncate
// drops whole stripes and zeroes the tail of the last. Space is reserved
// when a write dirties a stripe — the file system's capacity in data
// blocks, the pool's free blocks for the copy the flush will need — so
// ENOSPC comes back before anything changes.
//
// Reads take cached stripes from memory; small reads of uncached stripes
// go straight to the data chunk holding each 4 KiB block; anything else,
// and any chunk that is missing or fails its CRC, loads the stripe and
// rebuilds what failed from parity (counted in Health). With up to P
// drives missing, new stripes are written with their parity positions
// absent (degraded), not refused.
//
// # Metadata and durability
//
//	AppRoot (every drive) ─► checkpoint (records, mirrored) ─► journal segment ─► segment ...
//
// Operations change the in-memory namespace under their bucket locks and
// log their records in the same critical section, so journal order is
// apply order. The committer writes batches within GroupCommit (2 ms), or
// at once when someone waits: it first flushes every data drive written
// since the last commit (a record never points at data that is not on the
// media), then writes the entry to P+1 journal mirrors (at least 3) and
// flushes them. Fsync writes the file's dirty stripes, then waits for that
// commit, which also covers every metadata operation acknowledged before.
// After a crash, Open finds the newest checkpoint, replays the journal to
// its first torn or foreign entry, drops orphans (unlinked files whose
// last handle died with the process), rebuilds the allocators from the
// referenced extents and writes a fresh checkpoint, so new entries never
// follow a torn tail. Check does the same read-only and verifies it all.
//
// # Locking
//
// Lock order: Pool.mu, then bucket locks by index, then the committer;
// an inode's Data lock is taken before its bucket's lock. Bucket locks
// are held for in-memory work only, never across drive IO; Data locks
// serialise one file's IO; rename takes every bucket of its file system.
package pool

// Package pool is weft's compute-side file system: a pool of drives
// holding named file systems, each implementing fs.Service.
//
//	Pool ─ drives (nvme, one allocator each) ─ committer (journal, checkpoints)
//	  └─ FS "name" (N+P, capacity) ─ 64 buckets ─ inodes ─ stripes ─ chunks on drives
//
// Writes land in a bounded write-back cache of stripes; a flush encodes
// parity, writes the whole stripe to newly allocated chunks (copy on
// write, never over live blocks) and logs the new mapping; the old chunks
// return to the allocator only after that record is durable. A journal
// commit first flushes the data drives, then writes the entry on the
// journal mirrors: a record never points at data that is not on the media.
//
// Durability rule: metadata operations are applied in memory and logged
// at once; the committer writes them within GroupCommit (2 ms) and always
// before any Fsync (or O_SYNC write) returns. Fsync writes the file's
// dirty stripes, then commits.
//
// Open reads the AppRoot of every drive, takes the newest checkpoint that
// reads back, replays the journal, drops orphans (unlinked files whose
// last handle died with the process), rebuilds the allocators from the
// referenced extents, and writes a fresh checkpoint so new entries never
// follow a torn tail.
package pool

// Package journal holds weft's metadata log: the record codec (idempotent
// upserts and deletes of pool objects), the mirrored segment log written
// by group commit, and checkpoints.
//
// Every record changes one object, so the state is "checkpoint, then the
// journal entries after it, in sequence order":
//
//	superblock AppRoot (every drive)
//	  ├─ checkpoint seq S ──► [hdr | records ...]      mirrored on M drives
//	  └─ journal segment ──► [entry S+1][entry S+2]..[link]──► next segment ..
//
// An entry is one group commit: a header (magic, segment nonce, sequence,
// length, CRC32C) and the records of whole operations. Replay stops at
// the first entry whose sequence, nonce or CRC does not match: a torn tail
// or space reused from an older segment ends the journal, it never
// corrupts it. Segments and checkpoints are written to up to MirrorsMax
// drives (P+1 for the widest parity, 4), each copy flushed before the
// commit is acknowledged.
package journal

// Package bucket holds the sharded namespace of a file system: 64 buckets,
// each owning the inodes whose number carries its index in the top 16
// bits, and the entries of the directories among them.
//
//	ino = bucket<<48 | counter           new inode's bucket = hash(parent, name)
//	bucket ─┬─ inodes ─ attrs, xattrs, stripe map, cache
//	        └─ dirs ─ name index + cookie-ordered list (tombstones until compaction)
//
// Ownership is per bucket, so the multi-host step moves buckets between
// compute roles without changing the namespace. A directory lists by
// cookie: cookies only grow, so entries added or removed during a listing
// never make it skip or repeat the others.
package bucket

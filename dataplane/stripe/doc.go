// Package stripe holds weft's erasure-coded stripe: its geometry, the
// mapping of file bytes onto drive chunks and the Reed-Solomon code
// (klauspost/reedsolomon) that rebuilds missing chunks.
//
// A stripe of an N+P file system covers N×64 KiB of a file. File blocks
// (4 KiB) go round-robin over the N data chunks; chunk i lives on its own
// drive, parity chunks on P further drives:
//
//	file blocks:  0  1  2  3  4  5  6 ...            (N = 3, P = 2)
//	              │  │  │  │  │  │
//	row 0:      [ 0][ 1][ 2] [P0][Q0]
//	row 1:      [ 3][ 4][ 5] [P1][Q1]
//	...          d0  d1  d2   p0  p1    ← five drives, one chunk each
//	row 15
//
// Parity is computed per row, so a short tail stripe needs only
// ceil(blocks/N) rows on each drive, and a read that finds up to P
// chunks missing or failing their CRC rebuilds them from the rest.
package stripe

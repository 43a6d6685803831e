// Package e2e tests weft's binaries end to end: TestMain builds weftd,
// weft and mount.weft into a temporary directory; each test starts a real
// weftd on file-backed drives, drives it with the CLI and mount.weft, and
// uses the FUSE mount with ordinary file system calls.
//
//	test ──exec──> weft / mount.weft ──HTTP+token──> weftd ──> pool on drive files
//	  │                                                 │
//	  └──os.* on the mount ──> kernel FUSE ──> frontend ┘ (UDP loopback to compute)
//
// Everything a test creates is named wag-e2e-* and removed at cleanup.
// The tests need root and /dev/fuse and skip without them.
package e2e

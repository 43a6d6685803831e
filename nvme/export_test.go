package nvme

// Hooks for the external tests (package nvme_test), which cannot import
// nvme's internals but must, to reach internal/testkit without an import
// cycle (testkit builds pools on top of nvme).

// DataOffset is the byte offset of data block b on d's target.
func DataOffset(d *Drive, b uint64) int64 { return d.dataOff(b) }

// FlipChecksum corrupts the in-memory checksum of data block b.
func FlipChecksum(d *Drive, b uint64) { d.tab.entries[b] ^= 1 }

// AllZero reports whether b holds only zeros.
func AllZero(b []byte) bool { return allZero(b) }

// SuperblockCopies is the number of superblock copies.
const SuperblockCopies = superblockCopies

// SuperblockAppRoot decodes one superblock copy and returns its AppRoot.
func SuperblockAppRoot(b []byte) ([]byte, error) {
	sb, err := decodeSuperblock(b)
	return sb.appRoot, err
}

// RewriteVersion re-encodes the superblock copy in b with format version v.
func RewriteVersion(b []byte, v uint32) error {
	sb, err := decodeSuperblock(b)
	if err != nil {
		return err
	}
	sb.version = v
	sb.encode(b)
	return nil
}

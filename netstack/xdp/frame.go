package xdp

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Frame layout limits.
const (
	ethHeaderLen  = 14
	ipv4HeaderMin = 20
	ipv4HeaderMax = 60
	udpHeaderLen  = 8
	// HeadersLen is the Ethernet+IPv4+UDP overhead of every frame weft
	// sends (no IP options, no VLAN tag).
	HeadersLen = ethHeaderLen + ipv4HeaderMin + udpHeaderLen
	// ipTTL is the TTL of sent datagrams (the kernel's default).
	ipTTL = 64
)

// Decoder errors: a frame that fails any check is counted and dropped.
var (
	// ErrTruncated: the frame ends before a header or the length its
	// headers claim.
	ErrTruncated = errors.New("xdp: truncated frame")
	// ErrNotIPv4UDP: not an IPv4/UDP frame (other EtherType or protocol).
	ErrNotIPv4UDP = errors.New("xdp: not an IPv4/UDP frame")
	// ErrIPHeader: bad IP version, header length or header checksum.
	ErrIPHeader = errors.New("xdp: bad IPv4 header")
	// ErrLength: IP total length and UDP length disagree.
	ErrLength = errors.New("xdp: inconsistent IPv4/UDP length")
	// ErrFragment: an IP fragment (the XDP program leaves those to the
	// kernel, so one here is malformed).
	ErrFragment = errors.New("xdp: IPv4 fragment")
)

// MAC is an Ethernet address.
type MAC [6]byte

// Headers are the decoded addresses of one frame.
type Headers struct {
	DstMAC, SrcMAC MAC
	Src, Dst       netip.AddrPort
}

// DecodeFrame parses one whole Ethernet/IPv4/UDP frame and returns its
// headers and the UDP payload (a subslice of b). The UDP checksum is not
// checked: veth hands over partial checksums, and weft's own CRC32C
// protects the payload.
func DecodeFrame(b []byte) (Headers, []byte, error) {
	h, off, n, err := decodeHeaders(b, len(b))
	if err != nil {
		return h, nil, err
	}
	return h, b[off : off+n], nil
}

// decodeHeaders parses the headers in first (the first buffer of a frame
// of frameLen bytes, possibly spread over several buffers) and returns the
// payload's offset from the frame start and its length.
func decodeHeaders(first []byte, frameLen int) (h Headers, payloadOff, payloadLen int, err error) {
	if len(first) > frameLen {
		first = first[:frameLen]
	}
	if len(first) < ethHeaderLen+ipv4HeaderMin {
		return h, 0, 0, ErrTruncated
	}
	if binary.BigEndian.Uint16(first[12:14]) != 0x0800 {
		return h, 0, 0, ErrNotIPv4UDP
	}
	ip := first[ethHeaderLen:]
	if ip[0]>>4 != 4 {
		return h, 0, 0, ErrIPHeader
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < ipv4HeaderMin {
		return h, 0, 0, ErrIPHeader
	}
	if len(ip) < ihl+udpHeaderLen {
		return h, 0, 0, ErrTruncated
	}
	if checksum(ip[:ihl], 0) != 0xffff {
		return h, 0, 0, ErrIPHeader
	}
	if ip[9] != 17 {
		return h, 0, 0, ErrNotIPv4UDP
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return h, 0, 0, ErrFragment
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total < ihl+udpHeaderLen {
		return h, 0, 0, ErrLength
	}
	if ethHeaderLen+total > frameLen {
		return h, 0, 0, ErrTruncated
	}
	udp := ip[ihl:]
	udpLen := int(binary.BigEndian.Uint16(udp[4:6]))
	if udpLen != total-ihl {
		return h, 0, 0, ErrLength
	}
	copy(h.DstMAC[:], first[0:6])
	copy(h.SrcMAC[:], first[6:12])
	h.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(udp[0:2]))
	h.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(udp[2:4]))
	return h, ethHeaderLen + ihl + udpHeaderLen, udpLen - udpHeaderLen, nil
}

// EncodeHeaders writes the HeadersLen bytes of Ethernet, IPv4 and UDP
// headers for a payload of payloadLen bytes into b. The UDP checksum is
// left 0 (allowed for IPv4). id is the IPv4 identification field.
func EncodeHeaders(b []byte, h *Headers, payloadLen int, id uint16) {
	_ = b[HeadersLen-1]
	copy(b[0:6], h.DstMAC[:])
	copy(b[6:12], h.SrcMAC[:])
	binary.BigEndian.PutUint16(b[12:14], 0x0800)
	ip := b[ethHeaderLen:]
	ip[0] = 0x45
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:4], uint16(ipv4HeaderMin+udpHeaderLen+payloadLen))
	binary.BigEndian.PutUint16(ip[4:6], id)
	binary.BigEndian.PutUint16(ip[6:8], 0x4000) // don't fragment
	ip[8] = ipTTL
	ip[9] = 17
	ip[10], ip[11] = 0, 0
	src, dst := h.Src.Addr().As4(), h.Dst.Addr().As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:12], ^checksum(ip[:ipv4HeaderMin], 0))
	udp := ip[ipv4HeaderMin:]
	binary.BigEndian.PutUint16(udp[0:2], h.Src.Port())
	binary.BigEndian.PutUint16(udp[2:4], h.Dst.Port())
	binary.BigEndian.PutUint16(udp[4:6], uint16(udpHeaderLen+payloadLen))
	udp[6], udp[7] = 0, 0
}

// checksum is the folded ones'-complement sum of b (RFC 1071) added to
// sum; a header with a valid checksum sums to 0xffff.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

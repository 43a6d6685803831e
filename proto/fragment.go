package proto

// FragmentCount returns how many packets carry a message of msgLen bytes
// when each packet holds at most fragBytes of payload. An empty message
// still takes one packet.
func FragmentCount(msgLen, fragBytes int) int {
	if msgLen <= 0 {
		return 1
	}
	return (msgLen + fragBytes - 1) / fragBytes
}

// FragmentHeader fills the fragment fields of h for fragment i of a
// message of msgLen bytes split into fragBytes pieces and returns the
// fragment's byte range in the message. h's message fields (Opcode,
// RequestID, ...) are left as they are.
func FragmentHeader(h *Header, msgLen, fragBytes, i int) (from, to int, err error) {
	if msgLen > MessageBytesMax {
		return 0, 0, ErrTooLarge
	}
	if fragBytes <= 0 || fragBytes > PacketPayloadMax {
		return 0, 0, ErrLength
	}
	n := FragmentCount(msgLen, fragBytes)
	if n > FragCountMax || i < 0 || i >= n {
		return 0, 0, ErrFragment
	}
	from = i * fragBytes
	to = min(from+fragBytes, msgLen)
	if from > to {
		from = to
	}
	h.MsgLen = uint32(msgLen)
	h.FragOffset = uint32(from)
	h.PayloadLen = uint16(to - from)
	h.Flags &^= FlagFragment | FlagLastFragment
	if n == 1 {
		h.FragIndex, h.FragCount = 0, 0
		h.FragOffset = 0
		return from, to, nil
	}
	h.FragIndex, h.FragCount = uint16(i), uint16(n)
	h.Flags |= FlagFragment
	if i == n-1 {
		h.Flags |= FlagLastFragment
	}
	return from, to, nil
}

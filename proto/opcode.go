package proto

import "fmt"

// Opcode names the operation a message carries. Ranges are owned by
// layers: 0x0000–0x00FF messenger/control, 0x0100–0x01FF file-system ops
// (proto/fsmsg), 0x0200–0x02FF drive ops, 0x0300–0x03FF management.
type Opcode uint16

// Opcode range bounds.
const (
	OpControlFirst    Opcode = 0x0000
	OpControlLast     Opcode = 0x00FF
	OpFSFirst         Opcode = 0x0100
	OpFSLast          Opcode = 0x01FF
	OpDriveFirst      Opcode = 0x0200
	OpDriveLast       Opcode = 0x02FF
	OpManagementFirst Opcode = 0x0300
	OpManagementLast  Opcode = 0x03FF
)

// Control opcodes used by the messenger and the reliability layer.
const (
	// OpNone marks packets that carry no message (pure acks, keepalives).
	OpNone Opcode = 0x0000
	// OpPing is answered by every messenger with an empty response.
	OpPing Opcode = 0x0001
	// OpEcho is answered with the request payload (tests, benchmarks).
	OpEcho Opcode = 0x0002
	// OpSink swallows one-way messages (throughput benchmarks).
	OpSink Opcode = 0x0003
)

func (o Opcode) String() string {
	switch o {
	case OpNone:
		return "none"
	case OpPing:
		return "ping"
	case OpEcho:
		return "echo"
	case OpSink:
		return "sink"
	}
	return fmt.Sprintf("op%#04x", uint16(o))
}

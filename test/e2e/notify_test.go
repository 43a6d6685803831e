package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdNotify runs weftd the way systemd runs a Type=notify service:
// with NOTIFY_SOCKET pointing at a datagram socket, on which weftd must
// send READY=1 once it serves, and STOPPING=1 when SIGTERM arrives.
func TestSystemdNotify(t *testing.T) {
	a := newAgent(t)
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(a.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	os.Setenv("NOTIFY_SOCKET", sock)
	a.start()
	os.Unsetenv("NOTIFY_SOCKET")
	read := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(agentStartTimeout))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s on NOTIFY_SOCKET: %v", want, err)
			}
			if strings.Contains(string(buf[:n]), want) {
				return
			}
		}
	}
	read("READY=1")
	// READY comes only once the API answers: start() has seen it answer.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	read("STOPPING=1")
}

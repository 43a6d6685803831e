package mgmt

import (
	"bytes"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzFSMApply feeds arbitrary log entries to the state machine: it must
// answer each with an error or nil and never panic, and a snapshot of
// whatever state results must restore to the same state.
func FuzzFSMApply(f *testing.F) {
	for _, s := range []string{
		`{"op":"create_cluster","cluster":{"uuid":"u","name":"c"}}`,
		`{"op":"create_cluster"}`,
		`{"op":"add_drive","drive":{"uuid":"d","path":"/x"}}`,
		`{"op":"create_pool","pool":{"drives":["d"]}}`,
		`{"op":"create_fs","fs":{"name":"a","data_shards":3,"parity_shards":2}}`,
		`{"op":"delete_fs","name":"a"}`,
		`{"op":"remove_drive","name":"d"}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &fsm{}
		m.Apply(&raft.Log{Index: 1, Data: []byte(`{"op":"create_cluster","cluster":{"uuid":"u","name":"c"}}`)})
		m.Apply(&raft.Log{Index: 2, Data: b})
		snap, err := m.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.NewBuffer(append([]byte(nil), snap.(snapshot)...))
		m2 := &fsm{}
		if err := m2.Restore(nopCloser{buf}); err != nil {
			t.Fatalf("restore: %v", err)
		}
		a, _ := m.Snapshot()
		c, _ := m2.Snapshot()
		if !bytes.Equal(a.(snapshot), c.(snapshot)) {
			t.Fatalf("snapshot round trip differs:\n%s\n%s", a, c)
		}
	})
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

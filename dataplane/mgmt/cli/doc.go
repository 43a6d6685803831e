// Package cli is the `weft` command line: cobra commands that talk to the
// local agent's management API with the token from its state directory,
// and the offline checker that reads drives directly.
//
//	weft cluster create | cluster drive add/list
//	weft fs create/list/delete
//	weft status
//	weft local mount/umount/status      ──HTTP+token──> weftd
//	weft fsck --drive ...               ──reads drives (weftd stopped)
//
// Every command prints a table for people and, with -J, JSON for programs.
package cli

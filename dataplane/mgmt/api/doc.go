// Package api holds the management REST API's wire types and its Go
// client, shared by the agent (server side, package mgmt), the `weft` CLI
// and mount.weft. It also parses the human-facing values the API accepts:
// sizes ("10GiB") and protection schemes ("3+2").
//
//	weft / mount.weft ──Client──HTTP/JSON + bearer token──> weftd (mgmt.Server)
//
// Every request carries "Authorization: Bearer <token>", the token weftd
// writes to its state directory with mode 0600; only /healthz and
// /metrics answer without it.
package api

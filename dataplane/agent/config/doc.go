// Package config reads the agent's service configuration,
// /etc/weft/service.conf: one "key = value" per line, '#' starts a
// comment. weftd loads it and lets flags override single keys; the CLI and
// mount.weft read it only to find the agent's API address and token.
//
//	/etc/weft/service.conf ──Load──> Config <──Set(key, value)── weftd flags
//	                                   │
//	                   state_dir/token, api_addr ──> weft, mount.weft
package config

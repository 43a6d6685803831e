#!/bin/sh
# netns.sh — build or remove a test network of host namespaces joined by a
# bridge, the same layout internal/testkit/netns.go builds for Go tests:
#
#   netns wxci-h1 (wx0 10.99.200.1) --veth-- netns wxci-sw (bridge wxbr) --veth-- netns wxci-h2 (wx0 10.99.200.2) ...
#
# usage: ci/netns.sh up [HOSTS [MTU]]    (default 2 hosts, MTU 1500)
#        ci/netns.sh down
#        ci/netns.sh exec N CMD...        (run CMD inside host N)
# Needs root and iproute2. Everything is named wxci-* and removed by `down`.
set -eu
TAG=${WX_TAG:-wxci}
SUBNET=${WX_SUBNET:-10.99.200}

up() {
	hosts=${1:-2}
	mtu=${2:-1500}
	ip netns add "$TAG-sw"
	ip -n "$TAG-sw" link add wxbr mtu "$mtu" type bridge
	ip -n "$TAG-sw" link set wxbr type bridge forward_delay 0 stp_state 0
	ip -n "$TAG-sw" link set wxbr up
	# a switch does not check IP headers: keep br_netfilter out of the way
	ip netns exec "$TAG-sw" sh -c 'for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e $f ] && echo 0 > $f; done; true'
	i=1
	while [ "$i" -le "$hosts" ]; do
		ns="$TAG-h$i"
		ip netns add "$ns"
		ip link add name wx0 netns "$ns" mtu "$mtu" type veth peer name "wxp$i" netns "$TAG-sw" mtu "$mtu"
		ip -n "$TAG-sw" link set "wxp$i" master wxbr up
		ip -n "$ns" addr add "$SUBNET.$i/24" dev wx0
		ip -n "$ns" link set wx0 up
		ip -n "$ns" link set lo up
		echo "$ns wx0 $SUBNET.$i/24 mtu $mtu"
		i=$((i + 1))
	done
}

down() {
	for ns in $(ip netns list | awk '{print $1}' | grep "^$TAG-" || true); do
		ip netns del "$ns"
	done
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
exec) n=$2; shift 2; exec ip netns exec "$TAG-h$n" "$@" ;;
*) echo "usage: $0 up [HOSTS [MTU]] | down | exec N CMD..." >&2; exit 2 ;;
esac

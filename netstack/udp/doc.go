// Package udp is weft's kernel-UDP transport: the fallback that is always
// bound on weft's port and the only transport where AF_XDP cannot run
// (loopback, missing capabilities, unsupported drivers).
//
// A Transport is one nonblocking SO_REUSEPORT socket, meant to be owned by
// one poller; several pollers open one socket each on the same address and
// the kernel spreads flows across them. RecvBurst and SendBurst move up to
// batchPacketsMax datagrams per recvmmsg(2)/sendmmsg(2) through mmsghdr,
// iovec and sockaddr arrays preallocated at Listen, so the hot path makes
// one system call per burst and allocates nothing.
package udp

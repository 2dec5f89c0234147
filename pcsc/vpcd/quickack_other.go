//go:build !linux

package vpcd

import "net"

// setQuickAck does nothing outside Linux: TCP_QUICKACK is a Linux option, and
// vpcd (part of pcsc-lite's driver set) is only used there in practice.
func setQuickAck(net.Conn) {}

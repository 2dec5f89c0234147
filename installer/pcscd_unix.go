//go:build unix && !darwin

package installer

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"
)

// pcscdSocket is where pcsc-lite's daemon listens; PCSCLITE_CSOCK_NAME
// overrides it as it does for libpcsclite.
func pcscdSocket() string {
	if s := os.Getenv("PCSCLITE_CSOCK_NAME"); s != "" {
		return s
	}
	return "/run/pcscd/pcscd.comm"
}

// smartCardServiceUp connects to pcscd's socket. Under systemd the socket
// is activated on demand, so a successful connection means the service
// will answer even if pcscd was not running a moment ago. Connecting is
// what SCardEstablishContext does first; this check needs no cgo.
func smartCardServiceUp(ctx context.Context) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "unix", pcscdSocket())
	if err != nil {
		return fmt.Errorf("pcscd is not running (cannot connect to %s); install and start it: apt install pcscd", pcscdSocket())
	}
	c.Close()
	return nil
}

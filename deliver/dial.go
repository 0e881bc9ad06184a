package deliver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/chathook/chathook"
)

// errPrivateTarget is returned by the dialer for a refused address.
var errPrivateTarget = errors.New("private address")

// newDialer returns the dialer of the dispatcher's client. Unless
// allowPrivate, it refuses every address chathook.PublicAddr refuses,
// after DNS resolution and before connect(2): its Control runs on the
// socket once the address is final, so a name that resolves to
// 127.0.0.1, 169.254.169.254 or 64:ff9b::a9fe:a9fe is caught and no
// packet leaves for it.
func newDialer(allowPrivate bool) *net.Dialer {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	return dialer
}

// refusePrivate is the dialer's Control: address is the resolved
// "ip:port" about to be connected to.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !chathook.PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w %s", errPrivateTarget, address)
	}
	return nil
}

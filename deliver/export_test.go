package deliver

import "time"

// Exported for the tests of the dispatcher's client, which are in package
// deliver_test.
var (
	NewClient        = newClient
	RefusePrivate    = refusePrivate
	ErrPrivateTarget = errPrivateTarget
	NewAMQPTarget    = newAMQPTarget
	NewDialer        = newDialer
	WriteBounded     = writeBounded
)

// InFlight is how many runs are in flight, and Lanes how many lanes are
// alive (an idle lane is dropped, leaving its memo), for tests of what a
// dispatch starts.
func (d *Dispatcher) InFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight
}

func (d *Dispatcher) Lanes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.lanes)
}

// ForgetWindows makes d's idle lanes leave their windows behind at once,
// for tests of a lane that starts over; call it before Run.
func (d *Dispatcher) ForgetWindows() { d.windowKept = 0 }

// HoldTarget makes d hold t as the broker target of endpoint ep's url,
// last used at used, for tests of what closing idle targets costs.
func (d *Dispatcher) HoldTarget(ep int64, url string, t Target, used time.Time) {
	d.targets.mu.Lock()
	defer d.targets.mu.Unlock()
	d.targets.held[heldKey{ep, url}] = &heldTarget{t: t, used: used}
}

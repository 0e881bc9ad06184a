package deliver

// Exported for the tests of the dispatcher's client, which are in package
// deliver_test.
var (
	NewClient        = newClient
	RefusePrivate    = refusePrivate
	ErrPrivateTarget = errPrivateTarget
	NewAMQPTarget    = newAMQPTarget
	NewDialer        = newDialer
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

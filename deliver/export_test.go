package deliver

// Exported for the tests of the dispatcher's client, which are in package
// deliver_test.
var (
	NewClient        = newClient
	RefusePrivate    = refusePrivate
	ErrPrivateTarget = errPrivateTarget
)

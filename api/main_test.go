package api_test

import (
	"os"
	"testing"

	"github.com/chathook/chathook/chathooktest"
)

// TestMain holds the package to docs/openapi.json: every exchange of its
// tests is checked against the document (chathooktest.CheckAPI), and a
// full run fails unless every operation of the document was exercised.
// The operations listed are documented before the handlers that serve
// them are on this branch.
func TestMain(m *testing.M) {
	os.Exit(chathooktest.RunCheckingAPI(m, "recoverDeliveries", "rotateSecret"))
}

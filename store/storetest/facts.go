package storetest

import (
	"testing"

	"github.com/chathook/chathook/store"
)

// facts are the tests of store.Facts, BanAccount and ReplyUncertain.
var facts = map[string]func(*testing.T, store.Store){}

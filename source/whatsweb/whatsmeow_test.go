package whatsweb

import (
	"testing"

	"go.mau.fi/whatsmeow/store/sqlstore"
)

// The production client acknowledges a message only after chathook's
// handler stored it, keeps its plaintext until then, and does not retry
// a first connection that cannot reach WhatsApp (the caller says so); a
// message it cannot decrypt is asked again from the phone too.
func TestWhatsmeowClientSettings(t *testing.T) {
	c := Whatsmeow{}.Client(sqlstore.NewWithDB(nil, "sqlite3", nil).NewDevice()).(wmClient).cli
	if !c.SynchronousAck || !c.EnableDecryptedEventBuffer {
		t.Errorf("SynchronousAck %v, EnableDecryptedEventBuffer %v: a message could be acknowledged before it is stored",
			c.SynchronousAck, c.EnableDecryptedEventBuffer)
	}
	if !c.AutomaticMessageRerequestFromPhone {
		t.Error("a message that cannot be decrypted is not asked again from the phone")
	}
	if !c.EnableAutoReconnect || c.InitialAutoReconnect {
		t.Errorf("EnableAutoReconnect %v, InitialAutoReconnect %v", c.EnableAutoReconnect, c.InitialAutoReconnect)
	}
}

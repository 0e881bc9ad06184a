package cloudapi

import (
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// batch is what one POST of Meta's gives the store, and what else it held.
type batch struct {
	msgs []chathook.Incoming
	// named are the numbers of the workspace that the POST named, each
	// once: Meta has reached chathook for them.
	named []chathook.CloudAPINumber
	tally
}

// otherAppError is a POST that names a number of the workspace whose app
// secret did not sign it: another Meta app's secret signed it, and an app
// speaks only for its own numbers.
type otherAppError struct {
	PhoneNumberID string
}

func (e *otherAppError) Error() string {
	return fmt.Sprintf("phone number id %s belongs to another Meta app than the one whose secret signed the body", e.PhoneNumberID)
}

// read maps every change of n. byID are the workspace's numbers by phone
// number id, signed tells whether a number's app secret is one that
// signed the body. It is all or nothing: the error is an *otherAppError,
// or a *ingest.FieldError naming the path of what cannot be read.
func read(n notification, byID map[string]chathook.CloudAPINumber, signed func(chathook.CloudAPINumber) bool, now time.Time) (batch, error) {
	var b batch
	// First whose the changes are, so that a body signed by one app is
	// refused whole when it speaks for another's number, whatever else it
	// holds.
	type known struct {
		c    change
		path string
		acc  chathook.Account
	}
	var changes []known
	seen := map[string]bool{}
	for i, e := range n.Entry {
		for j, c := range e.Changes {
			path := fmt.Sprintf("entry[%d].changes[%d]", i, j)
			if c.Field != fieldMessages && c.Field != fieldEchoes {
				b.ignore("field " + ingest.Cut(c.Field, 64))
				continue
			}
			id := c.Value.Metadata.PhoneNumberID
			if id == "" {
				return b, fieldErr(path+".value.metadata.phone_number_id", "required: the number the change is of")
			}
			num, ok := byID[id]
			switch {
			case !ok:
				if !seen[id] {
					b.unknown = append(b.unknown, ingest.Cut(id, 64))
				}
			case !signed(num):
				return b, &otherAppError{PhoneNumberID: id}
			default:
				changes = append(changes, known{c, path, num.Account})
				if !seen[id] {
					b.named = append(b.named, num)
				}
			}
			seen[id] = true
		}
	}

	for _, k := range changes {
		v := k.c.Value
		b.statuses += len(v.Statuses)
		b.errors += len(v.Errors)
		list, name := v.Messages, "messages"
		if k.c.Field == fieldEchoes {
			list, name = v.MessageEchoes, "message_echoes"
		}
		names := contactNames(v.Contacts)
		for i, m := range list {
			base := fmt.Sprintf("%s.value.%s[%d]", k.path, name, i)
			in, ok, err := mapMessage(m, base, k.acc, k.c.Field == fieldEchoes, names, now)
			switch {
			case err != nil:
				return b, err
			case ok:
				b.msgs = append(b.msgs, in)
			default:
				b.ignore("type " + ingest.Cut(m.Type, 64))
			}
		}
	}
	return b, nil
}

package cloudapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// batch is what one POST of Meta's gives the store, and what else it held.
type batch struct {
	msgs []chathook.Incoming
	// facts are the statuses and reactions, per account in the order the
	// POST names the accounts, each account's in the POST's order.
	facts []accountFacts
	// named are the numbers of the workspace that the POST named, each
	// once: Meta has reached chathook for them.
	named []chathook.CloudAPINumber
	// leftOut are the messages and statuses that break the rules: each
	// is logged, and the rest of the POST stored.
	leftOut []*ingest.FieldError
	tally
}

// accountFacts are the facts of one account, for one Store.RecordFacts.
type accountFacts struct {
	accountID int64
	facts     []chathook.Fact
}

// fact adds f to the facts of account id.
func (b *batch) fact(id int64, f chathook.Fact) {
	for i := range b.facts {
		if b.facts[i].accountID == id {
			b.facts[i].facts = append(b.facts[i].facts, f)
			return
		}
	}
	b.facts = append(b.facts, accountFacts{accountID: id, facts: []chathook.Fact{f}})
}

// leave records a message or status left out for err, a
// *ingest.FieldError naming its path.
func (b *batch) leave(err error) {
	var fe *ingest.FieldError
	if !errors.As(err, &fe) {
		fe = &ingest.FieldError{Field: "", Problem: err.Error()}
	}
	b.leftOut = append(b.leftOut, fe)
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
// signed the body. The error, for the whole POST, is an *otherAppError,
// or a *ingest.FieldError naming a change that names no number; a
// message or status that breaks the rules is only left out (SPEC 5.2:
// Meta sends a refused body again, whole, for days).
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
		b.errors += len(v.Errors)
		list, name, echo := v.Messages, "messages", k.c.Field == fieldEchoes
		if echo {
			list, name = v.MessageEchoes, "message_echoes"
		}
		names := contactNames(v.Contacts)
		for i, raw := range list {
			base := fmt.Sprintf("%s.value.%s[%d]", k.path, name, i)
			var m message
			if err := decodeAt(raw, &m, base); err != nil {
				b.leave(err)
				continue
			}
			if m.Type == "reaction" {
				f, err := mapReaction(m, base, k.acc, echo, names, now)
				if err != nil {
					b.leave(err)
					continue
				}
				b.fact(k.acc.ID, f)
				continue
			}
			in, ok, err := mapMessage(m, base, k.acc, echo, names, now)
			switch {
			case err != nil:
				b.leave(err)
			case ok:
				b.msgs = append(b.msgs, in)
			default:
				b.ignore("type " + ingest.Cut(m.Type, 64))
			}
		}
		for i, raw := range v.Statuses {
			f, ok, err := mapStatus(raw, fmt.Sprintf("%s.value.statuses[%d]", k.path, i), now)
			switch {
			case err != nil:
				b.leave(err)
			case ok:
				b.statuses++
				b.fact(k.acc.ID, f)
			default:
				b.ignore("status " + ingest.Cut(string(f.Status), 64))
			}
		}
	}
	return b, nil
}

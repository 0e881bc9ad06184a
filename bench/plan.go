package bench

import (
	"strconv"
)

// plan is the set of messages a run sends and who sends which.
//
// Message i belongs to chat i % chats, and chat c is ingested by client
// c % clients alone, in increasing i, one request after another. So
// within a chat a lower index is always ingested before a higher one: the
// order the tally checks deliveries against.
type plan struct {
	messages, chats, clients, batch int
}

func (p plan) chat(i int) int { return i % p.chats }

// share returns the indexes client k sends, in the order it sends them.
func (p plan) share(k int) []int {
	var out []int
	for i := range p.messages {
		if p.chat(i)%p.clients == k {
			out = append(out, i)
		}
	}
	return out
}

// path is the ingest route a request of n messages goes to: single
// messages go to POST /api/v1/messages when the batch size is 1.
func (p plan) path() string {
	if p.batch == 1 {
		return "/api/v1/messages"
	}
	return "/api/v1/messages/batch"
}

// body is the request body for the messages idx: one message when the
// batch size is 1, else {"messages": [...]}.
func (p plan) body(idx []int) []byte {
	if p.batch == 1 {
		return p.message(nil, idx[0])
	}
	b := append(make([]byte, 0, 320*len(idx)), `{"messages":[`...)
	for n, i := range idx {
		if n > 0 {
			b = append(b, ',')
		}
		b = p.message(b, i)
	}
	return append(b, "]}"...)
}

// message appends message i as the ingest API takes it (SPEC 6). It has
// no timestamp, so the service stamps it with its time of ingest, and the
// bundles of a chat list its messages in ingest order.
func (p plan) message(b []byte, i int) []byte {
	c := strconv.Itoa(p.chat(i))
	phone := "+1555" + pad7(p.chat(i))
	direction := "received"
	if i%2 == 1 {
		direction = "sent"
	}
	b = append(b, `{"account":{"phone":"+15550000000","full_name":"Bench Account","email":"bench@example.com"},`...)
	b = append(b, `"chat":{"external_id":"`+phone+`","full_name":"Chat `+c+`","phone":"`+phone+`"},`...)
	b = append(b, `"message_id":"`+messageID(i)+`","direction":"`+direction+`",`...)
	b = append(b, `"text":"message `+strconv.Itoa(i)+` of chat `+c+`: the quick brown fox jumps over the lazy dog 🦊"}`...)
	return b
}

// pad7 writes n with at least 7 digits.
func pad7(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 7 {
		s = "0" + s
	}
	return s
}

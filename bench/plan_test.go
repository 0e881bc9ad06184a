package bench

import (
	"encoding/json"
	"testing"
)

// Every message is sent once, by the one client that owns its chat, in
// increasing index: what makes "earlier index" mean "ingested earlier".
func TestPlanSharesEachChatWithOneClientInOrder(t *testing.T) {
	p := plan{messages: 1003, chats: 7, clients: 3, batch: 10}
	sent := make([]int, p.messages)
	owner := map[int]int{}
	for k := range p.clients {
		share := p.share(k)
		for n, i := range share {
			sent[i]++
			if n > 0 && share[n-1] >= i {
				t.Fatalf("client %d sends %d after %d", k, i, share[n-1])
			}
			if o, ok := owner[p.chat(i)]; ok && o != k {
				t.Fatalf("chat %d is sent by clients %d and %d", p.chat(i), o, k)
			}
			owner[p.chat(i)] = k
		}
	}
	for i, n := range sent {
		if n != 1 {
			t.Fatalf("message %d sent %d times", i, n)
		}
	}
}

func TestPlanBodiesAreTheIngestAPIs(t *testing.T) {
	type msg struct {
		Chat struct {
			ExternalID string `json:"external_id"`
		} `json:"chat"`
		MessageID string `json:"message_id"`
		Direction string `json:"direction"`
		Text      string `json:"text"`
	}
	p := plan{messages: 100, chats: 10, clients: 2, batch: 3}
	var batch struct{ Messages []msg }
	if err := json.Unmarshal(p.body([]int{0, 10, 20}), &batch); err != nil {
		t.Fatal(err)
	}
	if len(batch.Messages) != 3 || batch.Messages[1].MessageID != "bench-10" ||
		batch.Messages[0].Chat.ExternalID != batch.Messages[2].Chat.ExternalID || batch.Messages[0].Text == "" {
		t.Errorf("batch = %+v", batch)
	}
	if p.path() != "/api/v1/messages/batch" {
		t.Errorf("path %s", p.path())
	}

	p.batch = 1
	var one msg
	if err := json.Unmarshal(p.body([]int{7}), &one); err != nil {
		t.Fatal(err)
	}
	if one.MessageID != "bench-7" || one.Direction != "sent" || one.Chat.ExternalID != "+15550000007" || p.path() != "/api/v1/messages" {
		t.Errorf("single = %+v to %s", one, p.path())
	}
}

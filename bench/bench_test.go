package bench

import (
	"testing"
	"time"
)

func TestConfigDefaultsAndRefusals(t *testing.T) {
	c, err := Config{Workload: Steady, Rate: 200, Duration: 2 * time.Second}.WithDefaults()
	if err != nil || c.Messages != 400 || c.Batch != 10 || c.Chats != 1000 || c.Clients != 4 {
		t.Errorf("steady: %+v, %v", c, err)
	}
	c, err = Config{Workload: Bundles, Chats: 2}.WithDefaults()
	if err != nil || c.Messages != 1_000_000 || c.Batch != 1000 || c.Clients != 2 {
		t.Errorf("bundles over 2 chats: %+v, %v", c, err)
	}
	c, err = Config{Workload: Single}.WithDefaults()
	if err != nil || c.Messages != 20_000 || c.Chats != 1000 || c.Clients != 64 || c.Batch != 1 {
		t.Errorf("single: %+v, %v", c, err)
	}
	c, err = Config{Workload: Single, Messages: 300, Chats: 50, Clients: 8, Batch: 1}.WithDefaults()
	if err != nil || c.Messages != 300 || c.Chats != 50 || c.Clients != 8 || c.Batch != 1 {
		t.Errorf("single, settable: %+v, %v", c, err)
	}
	c, err = Config{Workload: None}.WithDefaults()
	if err != nil || c.Messages != 100_000 || c.Chats != 1000 || c.Clients != 4 || c.Batch != 1000 {
		t.Errorf("none: %+v, %v", c, err)
	}
	for name, bad := range map[string]Config{
		"single batches":  {Workload: Single, Batch: 10},
		"workload":        {Workload: "fast"},
		"steady messages": {Workload: Steady, Messages: 10},
		"batch too large": {Workload: None, Batch: 1001},
		"negative":        {Workload: None, Messages: -1},
		"not a database":  {Workload: None, DB: "mysql://x"},
	} {
		if _, err := bad.WithDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

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
	for name, bad := range map[string]Config{
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

package tables_test

import (
	"strconv"
	"testing"

	"github.com/chathook/chathook/store/tables"
)

// The SQL numerals of a lane's parts are the Go ones, and a lane comes
// apart into its chat, or account, and slot.
func TestLaneNumerals(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want int64
	}{
		{tables.SQLSlotShift, tables.SlotShift},
		{tables.SQLLaneChat, 1<<tables.SlotShift - 1},
		{tables.SQLAccountBit, tables.AccountBit},
		{tables.SQLLaneAccount, tables.AccountBit - 1},
	} {
		if got, err := strconv.ParseInt(c.sql, 10, 64); err != nil || got != c.want {
			t.Errorf("%q is not %d", c.sql, c.want)
		}
	}
	lane := tables.Lane(10000001, 19)
	if tables.LaneChat(lane) != 10000001 || lane>>tables.SlotShift != 19 || lane&tables.AccountBit != 0 {
		t.Errorf("chat lane %d", lane)
	}
	account := tables.AccountLane(42, 19)
	if account&(tables.AccountBit-1) != 42 || account>>tables.SlotShift != 19 || account&tables.AccountBit == 0 {
		t.Errorf("account lane %d", account)
	}
}

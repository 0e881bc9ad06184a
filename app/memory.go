package app

import "github.com/chathook/chathook/api"

// MemoryHeadroom is what the service takes besides request bodies: about
// 50 MiB at rest with a few accounts, measured, rounded up.
const MemoryHeadroom = 64 << 20

// MemoryLimit is the Go runtime's soft memory limit that serve sets for a
// body budget (zero: api.DefaultBodyBudget). Near it the collector runs
// harder instead of letting the heap grow to three times what is live
// (serve's GOGC of 200), so that the RSS request bodies can drive stays
// within the budget plus MemoryHeadroom, not twice the budget; far from
// it, collections stay as rare as GOGC makes them.
func MemoryLimit(bodyBudget int64) int64 {
	if bodyBudget <= 0 {
		bodyBudget = api.DefaultBodyBudget
	}
	return max(bodyBudget, api.MinBodyBudget) + MemoryHeadroom
}

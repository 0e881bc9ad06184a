package app

import "github.com/chathook/chathook/api"

// MemoryHeadroom is the least the soft memory limit leaves the service
// besides request bodies: about 50 MiB at rest with a few accounts,
// measured, and room for what grows outside the body budget (deliveries
// claimed, up to 2048 messages of up to 64K characters; many linked
// accounts).
const MemoryHeadroom = 128 << 20

// MemoryLimit is the Go runtime's soft memory limit that serve sets for a
// body budget (zero: api.DefaultBodyBudget): the budget plus the larger
// of MemoryHeadroom and half the budget. Near it the collector runs
// harder instead of letting the heap grow to three times what is live
// (serve's GOGC of 200), so that the RSS request bodies can drive stays
// near the limit, not twice the budget; far from it, collections stay as
// rare as GOGC makes them. The headroom is generous because a live heap
// past the limit for reasons outside the budget would make the collector
// run constantly (at up to half the CPU, which halves throughput).
func MemoryLimit(bodyBudget int64) int64 {
	if bodyBudget <= 0 {
		bodyBudget = api.DefaultBodyBudget
	}
	bodyBudget = max(bodyBudget, api.MinBodyBudget)
	return bodyBudget + max(MemoryHeadroom, bodyBudget/2)
}

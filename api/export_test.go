package api

// BatchOf is batchOf for the tests of package api_test.
var BatchOf = batchOf

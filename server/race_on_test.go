//go:build race

package server_test

// raceEnabled: the race detector allocates on every instrumented access,
// so allocation bounds do not hold under -race.
const raceEnabled = true

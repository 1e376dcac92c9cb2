// Package layering has no code of its own: its test reads every package of
// the module with go/build and fails when a change breaks one of the
// layering rules written down in docs/architecture.md (which packages may
// touch bbolt, the network, the operating system and the clock, and that no
// import runs upward). It must not grow helpers that other packages import.
package layering

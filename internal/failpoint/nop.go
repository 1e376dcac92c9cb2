//go:build !failpoints

package failpoint

// Inject does nothing: this build has no failpoints (see the package
// comment). It is inlined away.
func Inject(name string) {}

// Enabled reports whether this build has failpoints.
const Enabled = false

// Err is nil: there is nothing to arm.
func Err() error { return nil }

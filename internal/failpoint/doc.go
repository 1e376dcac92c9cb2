// Package failpoint holds named fault hooks for crash testing, in the manner
// of etcd's gofail but written here: code calls Inject("pkg/point") at the
// places where a crash is worth testing, and a test binary built with
// -tags failpoints crashes there on demand.
//
// Without the build tag, Inject is an empty function that the compiler
// inlines away: a production build carries no failpoint code, names or
// environment lookups.
//
// With -tags failpoints, the process reads CHEMLEDGER_FAILPOINTS once, at
// start-up: a comma-separated list of NAME=ACTION[@N], where ACTION is
//
//	kill   the process sends itself SIGKILL, as a crash or power cut would
//	       (no deferred functions run, nothing is flushed)
//	panic  the calling goroutine panics (deferred functions on its stack run,
//	       as bbolt's rollback does; no one recovers it, so the process dies)
//
// and @N makes the failpoint trigger on its Nth hit (counted per process,
// from 1) and on every hit after it; without @N it triggers on the first.
// For example:
//
//	CHEMLEDGER_FAILPOINTS="ledger/after-commit=kill,server/bulk-mid-stream=panic@3"
//
// A malformed list, or a name that is not one of the failpoints below, makes
// the process exit with status 2 at start-up rather than run untested.
//
// The failpoints:
//
//	ledger/before-sign      sequencer commit: new entries and tree nodes
//	                        written in the bbolt transaction, checkpoint not
//	                        yet signed
//	ledger/after-sign       the batch's checkpoint signed, not yet stored
//	ledger/before-commit    every write of the batch done inside the bbolt
//	                        Update, which has not returned (not committed)
//	ledger/after-commit     the batch committed and fsynced; not yet published
//	                        to readers nor answered
//	ledger/before-reply     the responder is about to answer a committed batch
//	server/bulk-mid-stream  BulkCreateEntries received an item of the stream
//	                        (not yet admitted or sequenced)
//	derive/before-store     the detector is about to store the flags and
//	                        applied mark of a fold (its bbolt Update)
//	derive/after-store      the detector stored them, before they are visible
//	                        to queries
//	chemledgerd/before-anchor  a checkpoint committed to the ledger, not yet
//	                        recorded in the audit trail (the two files'
//	                        commits are separate; the anchors must allow it)
//
// e2e/failpoint_test.go runs the real binary under each of them.
//
// It must not change behaviour in a build without the tag.
package failpoint

// Package examples holds the realistic entries the demo submits
// (registry.jsonl, then events.jsonl) and a test that keeps them valid.
// It has no code: it must not be imported.
package examples

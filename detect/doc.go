// Package detect is the diversion-detection engine: a deterministic fold over
// the committed log that turns shipment events and registry entries into
// flags an analyst can defend.
//
// A rule is a small pure function over a read-only View of indexed history
// and the new entry. Rules do no I/O and never read the clock: the time of an
// event-triggered finding is the integrated time of the entry that triggered
// it, and time-based rules (a missing arrival) are evaluated by Sweep "as of"
// a time the caller passes in. Everything a flag says — rule id and version,
// policy version, the thresholds actually used, a plain-words explanation
// and the log indexes of its evidence — is a function of the log prefix and
// the policy, so dropping the derived state and folding the log again gives
// byte-identical flags (docs/architecture.md, invariants 1 and 6).
//
// The pieces:
//   - Catalogue lists the rules with their ids, versions, severities, default
//     thresholds, explanation templates and sources (reference/domain.md §9).
//   - Policy holds the thresholds, with overrides per chemical and per
//     importing country, and the reference tables (PEN requirements, annual
//     legitimate requirements, synthesis sets, densities). The defaults are
//     embedded from data/; the illustrative ones say so in their files.
//   - State is the detector's in-memory index of history, built only by
//     Engine.Apply; View is the read-only face of it that rules use, so a
//     storage-backed implementation can replace it.
//   - Engine.Apply folds one committed record and returns the new flags;
//     Engine.Sweep runs the time-based rules. A flag is raised at most once
//     per rule and dedupe key; a shipment that joins a pattern a group rule
//     flagged (R11, R12, R28) gets a linked flag naming the first
//     (pattern.go), so a pattern's flags cite every shipment of it.
//   - Reference data the coalition sets (PEN requirements, synthesis sets,
//     reporting thresholds, complete licence registers) can be changed by
//     typed, dated updates in the log over the embedded defaults
//     (reference.go).
//   - A rule's cost per event does not grow with one party's volume: the
//     windowed questions R11 and R28 ask are answered from per-consignee,
//     per-chemical aggregates by binary search (lots.go), and R21 reads a
//     chemical's lot sizes from a histogram (lotsize.go).
//
// It must not do I/O, read the clock, or import storage, ledger or the
// network (internal/layering's test holds it to that).
package detect

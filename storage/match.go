package storage

// Matches reports whether an entry with metadata m is one f selects: what
// List checks of each candidate, for readers (a watch at the head of the
// log) that hold the entries already and need no index walk.
func (f Filter) Matches(m Meta) bool { return f.matches(m) }

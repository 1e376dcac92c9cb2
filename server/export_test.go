package server

// UndecodablePending is how many marks of undecodable messages are waiting
// for a decodeRefusal: none once every call has ended.
func UndecodablePending() int {
	n := 0
	undecodable.Range(func(any, any) bool { n++; return true })
	return n
}

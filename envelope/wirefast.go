package envelope

// scanWire is decodeWire for the envelopes clients actually send: plain JSON
// whose strings have no escapes, each key spelled exactly and once. It reads
// the bytes in one pass without encoding/json's tokenizer, which allocates an
// interface value per token and was a tenth of admission's time. Anything
// else (escapes, an unknown or repeated key, a value of the wrong type, too
// many signatures, any syntax error) returns ok false, and the caller reads
// the envelope with decodeWire, so that every envelope is accepted or
// refused, and decoded, exactly as decodeWire alone would.
func scanWire(b []byte) (w wire, ok bool) {
	s := scanner{b: b}
	if !s.object(func(key string) bool {
		switch key {
		case "payloadType":
			v, ok := s.str()
			w.PayloadType = &v
			return ok
		case "payload":
			v, ok := s.str()
			w.Payload = &v
			return ok
		case "signatures":
			return s.array(func() bool {
				if len(w.Signatures) >= MaxSignatures {
					return false
				}
				var sig wireSignature
				if !s.object(func(key string) bool {
					switch key {
					case "keyid":
						v, ok := s.str()
						sig.KeyID = v
						return ok
					case "sig":
						v, ok := s.str()
						sig.Sig = &v
						return ok
					}
					return false
				}) {
					return false
				}
				w.Signatures = append(w.Signatures, sig)
				return true
			})
		}
		return false
	}) {
		return wire{}, false
	}
	s.space()
	return w, s.i == len(s.b)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) peek(c byte) bool {
	s.space()
	return s.i < len(s.b) && s.b[s.i] == c
}

// str reads a string without escapes or control characters. (The input is
// valid UTF-8: Parse checks that first.)
func (s *scanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := string(s.b[s.i:j])
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// object reads {"key": value, ...}, calling field for each key with the
// scanner at its value; a repeated key is not ok.
func (s *scanner) object(field func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	var seen [4]string
	n := 0
	for {
		key, ok := s.str()
		if !ok || !s.next(':') {
			return false
		}
		for _, k := range seen[:n] {
			if k == key {
				return false
			}
		}
		if n == len(seen) {
			return false
		}
		seen[n] = key
		n++
		if !field(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') || s.peek('}') {
			return false
		}
	}
}

// array reads [elem, ...], calling elem for each element.
func (s *scanner) array(elem func() bool) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

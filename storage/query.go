package storage

import (
	"bytes"
	"encoding/binary"
)

// Filter selects entries for List. Empty fields match everything.
type Filter struct {
	ShipmentRef string
	Member      string
	CAS         string
	Kind        string
	// SinceNano and UntilNano bound the integrated time: Since inclusive,
	// Until exclusive, unix nanoseconds; zero means unbounded.
	SinceNano int64
	UntilNano int64
}

func (f Filter) matches(m Meta) bool {
	return (f.ShipmentRef == "" || m.ShipmentRef == f.ShipmentRef) &&
		(f.Member == "" || m.Member == f.Member) &&
		(f.CAS == "" || m.CAS == f.CAS) &&
		(f.Kind == "" || m.Kind == f.Kind) &&
		(f.SinceNano == 0 || m.IntegratedTime >= f.SinceNano) &&
		(f.UntilNano == 0 || m.IntegratedTime < f.UntilNano)
}

// Page is one page of List.
type Page struct {
	// Indexes of the matching entries, ascending.
	Indexes []uint64
	// Next is where the next page starts; Done means there is none.
	Next uint64
	Done bool
}

// MaxScan bounds how many candidates one List call examines, so that a
// filter that matches little cannot turn one request into a scan of the
// whole log: the page comes back short, with a token to go on from.
const MaxScan = 20000

// List returns up to limit indexes ≥ start of entries matching f, in log
// order. It walks the most selective secondary index the filter names (a
// shipment reference beats a CAS number beats a member beats a kind), or the
// time index, and checks the rest of the filter against each candidate's
// metadata.
func (t *ReadTx) List(f Filter, start uint64, limit int) (Page, error) {
	var (
		bucket []byte
		prefix []byte
	)
	switch {
	case f.ShipmentRef != "":
		bucket, prefix = bucketByRef, append([]byte(f.ShipmentRef), 0)
	case f.CAS != "":
		bucket, prefix = bucketByCAS, append([]byte(f.CAS), 0)
	case f.Member != "":
		bucket, prefix = bucketByMember, append([]byte(f.Member), 0)
	case f.Kind != "":
		bucket, prefix = bucketByKind, append([]byte(f.Kind), 0)
	}
	var p Page
	scanned := 0
	visit := func(index uint64) (bool, error) {
		if len(p.Indexes) == limit || scanned == MaxScan {
			p.Next = index
			return false, nil
		}
		scanned++
		m, err := t.Meta(index)
		if err != nil {
			return false, err
		}
		if f.UntilNano != 0 && m.IntegratedTime >= f.UntilNano {
			// Integrated time never decreases along the log.
			p.Done = true
			return false, nil
		}
		if f.matches(m) {
			p.Indexes = append(p.Indexes, index)
		}
		return true, nil
	}

	if bucket != nil {
		c := t.tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), start)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
			more, err := visit(binary.BigEndian.Uint64(k[len(prefix):]))
			if err != nil {
				return Page{}, err
			}
			if !more {
				return p, nil
			}
		}
		p.Done = true
		return p, nil
	}

	// No equality filter: walk the log from start, or from the first entry
	// integrated at or after Since.
	if f.SinceNano != 0 {
		k, _ := t.tx.Bucket(bucketByTime).Cursor().Seek(timeKey(f.SinceNano, 0))
		if k == nil {
			p.Done = true
			return p, nil
		}
		start = max(start, binary.BigEndian.Uint64(k[8:]))
	}
	c := t.tx.Bucket(bucketMeta).Cursor()
	for k, _ := c.Seek(u64(start)); k != nil; k, _ = c.Next() {
		more, err := visit(binary.BigEndian.Uint64(k))
		if err != nil {
			return Page{}, err
		}
		if !more {
			return p, nil
		}
	}
	p.Done = true
	return p, nil
}

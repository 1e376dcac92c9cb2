package filter

import (
	"fmt"
	"slices"

	"github.com/chemledger/chemledger/internal/refdata"
	"github.com/chemledger/chemledger/storage"
)

// WatchFields are the fields of a WatchEntries filter: a list's, and
// addressed_to, which no stored index answers (it is read from each
// entry's payload as the watch delivers it).
var WatchFields = append(slices.Clip(EntryFields), Field{"addressed_to", Equality})

// ParseWatch parses a WatchEntries filter into the storage filter of the
// list part and the country the entries must be addressed to ("" for
// any). The country must be an ISO 3166-1 alpha-2 code.
func ParseWatch(expr string, kinds KindName) (storage.Filter, string, error) {
	conds, err := Conds(expr, WatchFields)
	if err != nil {
		return storage.Filter{}, "", err
	}
	country := ""
	rest := conds[:0:0]
	for _, c := range conds {
		if c.Field != "addressed_to" {
			rest = append(rest, c)
			continue
		}
		if !refdata.IsCountry(c.Value) {
			return storage.Filter{}, "", &Error{Pos: c.ValuePos, Msg: fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code", c.Value)}
		}
		country = c.Value
	}
	f, err := fromConds(rest, kinds)
	return f, country, err
}

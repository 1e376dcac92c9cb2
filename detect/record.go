package detect

import (
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Record is one committed log entry as detection sees it. At most one of
// Event, Registry and Reference is set; a record with neither (an analyst's disposition,
// for example) is not detection input and Apply ignores it.
type Record struct {
	// Index is the entry's position in the log; flags cite it as evidence.
	Index uint64
	// Member is the coalition member that signed the entry.
	Member string
	// Time is the log's integrated time for the entry. It stands in for an
	// event's occurred_time when that is unset, and is the time an
	// event-triggered flag is raised at.
	Time time.Time
	// Event is a shipment event.
	Event *chemledgerv1.ShipmentEvent
	// Registry is a change to the shared registry (licence, watch list,
	// annual legitimate requirement).
	Registry *chemledgerv1.RegistryEntry
	// Reference is a change to the coalition's reference data (reference.go),
	// decoded from its registry entry by the caller.
	Reference *ReferenceUpdate
}

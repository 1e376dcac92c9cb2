package validate_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/internal/validate"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// FuzzEvent feeds arbitrary wire bytes through proto.Unmarshal into Event: it
// must never panic, and must answer nil or a bounded list of violations on
// paths under "event".
func FuzzEvent(f *testing.F) {
	for _, kind := range allKinds {
		for _, ev := range []*v1.ShipmentEvent{fullEvent(f, kind), minimalEvent(f, kind)} {
			b, err := proto.Marshal(ev)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	broken := fullEvent(f, export)
	broken.Kind = 99
	broken.Chemical.ConcentrationPercent = -1
	broken.Route[0].ArrivalTime.Nanos = -5
	b, err := proto.Marshal(broken)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})

	f.Fuzz(func(t *testing.T, data []byte) {
		var ev v1.ShipmentEvent
		if err := proto.Unmarshal(data, &ev); err != nil {
			return
		}
		vs := violations(t, validate.Event(&ev))
		for _, v := range vs {
			if v.Field != "event" && !strings.HasPrefix(v.Field, "event.") {
				t.Errorf("violation field %q is not under event", v.Field)
			}
			if v.Description == "" || len(v.Description) > 512 {
				t.Errorf("violation on %s has a description of %d bytes, want 1 to 512", v.Field, len(v.Description))
			}
		}
	})
}

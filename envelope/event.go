package envelope

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chemledger/chemledger/badinput"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// strictJSON refuses unknown fields: a field the ledger does not know would
// be signed and stored but invisible to every rule, which is worse than an
// error the submitter can fix.
var strictJSON = protojson.UnmarshalOptions{DiscardUnknown: false}

// DecodeEvent decodes the shipment event carried in env's payload. It does
// not validate the event's content (package validate does).
func DecodeEvent(env *Envelope) (*chemledgerv1.ShipmentEvent, error) {
	ev := &chemledgerv1.ShipmentEvent{}
	switch env.PayloadType {
	case PayloadTypeEventJSON:
		if err := strictJSON.Unmarshal(env.Payload, ev); err != nil {
			return nil, badinput.New("envelope.payload", "is not a shipment event in proto3 JSON: %v", err)
		}
	case PayloadTypeEventProto:
		if err := proto.Unmarshal(env.Payload, ev); err != nil {
			return nil, badinput.New("envelope.payload", "is not a shipment event in binary protobuf: %v", err)
		}
		if hasUnknown(ev.ProtoReflect()) {
			return nil, badinput.New("envelope.payload", "has fields unknown to chemledger.v1.ShipmentEvent")
		}
	default:
		return nil, badinput.New("envelope.payload_type", "%q is not a shipment event type", truncate(env.PayloadType))
	}
	return ev, nil
}

// EncodeEventJSON returns the payload for an event in proto3 JSON.
func EncodeEventJSON(ev *chemledgerv1.ShipmentEvent) ([]byte, error) {
	return protojson.Marshal(ev)
}

// hasUnknown reports whether m or any message inside it carries unknown
// fields.
func hasUnknown(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && !found; i++ {
				found = hasUnknown(l.Get(i).Message())
			}
		case fd.IsMap():
			// ShipmentEvent has no maps.
		default:
			found = hasUnknown(v.Message())
		}
		return !found
	})
	return found
}

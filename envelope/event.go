package envelope

import (
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chemledger/chemledger/internal/badinput"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// strictJSON refuses unknown fields: a field the ledger does not know would
// be signed and stored but invisible to every rule, which is worse than an
// error the submitter can fix.
var strictJSON = protojson.UnmarshalOptions{DiscardUnknown: false}

// Payload is a decoded envelope payload: exactly one field is set.
type Payload struct {
	Event       *chemledgerv1.ShipmentEvent
	Registry    *chemledgerv1.RegistryEntry
	Disposition *chemledgerv1.Disposition
}

// DecodePayload decodes env's payload into the message its payload type
// names. It does not validate the content (package validate does).
func DecodePayload(env *Envelope) (Payload, error) {
	var (
		p    Payload
		m    proto.Message
		what string
	)
	switch env.PayloadType {
	case PayloadTypeEventJSON, PayloadTypeEventProto:
		p.Event = &chemledgerv1.ShipmentEvent{}
		m, what = p.Event, "a shipment event"
	case PayloadTypeRegistryJSON, PayloadTypeRegistryProto:
		p.Registry = &chemledgerv1.RegistryEntry{}
		m, what = p.Registry, "a registry entry"
	case PayloadTypeDispositionJSON, PayloadTypeDispositionProto:
		p.Disposition = &chemledgerv1.Disposition{}
		m, what = p.Disposition, "a disposition"
	default:
		return Payload{}, badinput.New("envelope.payload_type", "%q is not a payload type this ledger reads", truncate(env.PayloadType))
	}
	if strings.HasSuffix(env.PayloadType, "+json") {
		if err := strictJSON.Unmarshal(env.Payload, m); err != nil {
			return Payload{}, badinput.New("envelope.payload", "is not %s in proto3 JSON: %v", what, err)
		}
		return p, nil
	}
	if err := proto.Unmarshal(env.Payload, m); err != nil {
		return Payload{}, badinput.New("envelope.payload", "is not %s in binary protobuf: %v", what, err)
	}
	if hasUnknown(m.ProtoReflect()) {
		return Payload{}, badinput.New("envelope.payload", "has fields unknown to %s", m.ProtoReflect().Descriptor().FullName())
	}
	return p, nil
}

// DecodeEvent decodes the shipment event carried in env's payload; any
// other payload is an error.
func DecodeEvent(env *Envelope) (*chemledgerv1.ShipmentEvent, error) {
	p, err := DecodePayload(env)
	if err != nil {
		return nil, err
	}
	if p.Event == nil {
		return nil, badinput.New("envelope.payload_type", "%q is not a shipment event type", truncate(env.PayloadType))
	}
	return p.Event, nil
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

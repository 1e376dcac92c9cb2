package server

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// strictQuery is grpc-gateway's query parser, except that a parameter that
// names no field of the request is refused: "?fitler=…" listing everything
// is a mistake the caller should hear about, as an unknown body field is.
type strictQuery struct{ runtime.DefaultQueryParser }

func (q *strictQuery) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	fields := msg.ProtoReflect().Descriptor().Fields()
	for key := range values {
		name, _, _ := strings.Cut(key, ".")
		name, _, _ = strings.Cut(name, "[")
		if fields.ByName(protoreflect.Name(name)) == nil && fields.ByJSONName(name) == nil {
			return fmt.Errorf("unknown query parameter %q", key)
		}
	}
	return q.DefaultQueryParser.Parse(msg, values, filter)
}

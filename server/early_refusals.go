package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // the codec protoCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/internal/badinput"
)

// Refusals of gRPC calls before the service's interceptors see them.
//
// A gRPC request whose message does not parse never reaches an
// interceptor: grpc-go decodes a unary request before it calls them, and
// when its codec fails it answers INTERNAL at once (as if the server were
// at fault), before the handler can say otherwise. So the codec does not
// fail: it leaves the message empty and marked, and the service's own code
// (guardedRegistrar for unary methods, ctxStream for streams) refuses a
// marked message with INVALID_ARGUMENT (BAD_INPUT) and audits it like any
// other refusal, before the answer. Refusals grpc-go makes before the codec
// runs (a message over MaxRecvMsgSize) are audited by auditNet.

// auditNet records every gRPC call that ended in an error no interceptor
// or handler audited: those grpc-go refused and answered itself, between
// the call's headers and the service's code (a message over
// MaxRecvMsgSize, a compression it does not know, a second message on a
// unary call). It sees them only as the call ends, so their records
// follow the answer instead of preceding it; a refusal needs no
// fail-closed, it is refused either way.
type auditNet struct{ s *Server }

// audited is set, on a call's context, once the service's own code has
// the call (authorise, refuseUndecoded), which accounts for its outcome by
// its own rules; auditNet records only the calls it never had.
type audited struct {
	method string
	done   atomic.Bool
}

type auditedKey struct{}

func markAudited(ctx context.Context) {
	if a, ok := ctx.Value(auditedKey{}).(*audited); ok {
		a.done.Store(true)
	}
}

func (n auditNet) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, auditedKey{}, &audited{method: info.FullMethodName})
}

func (n auditNet) HandleRPC(ctx context.Context, st stats.RPCStats) {
	end, ok := st.(*stats.End)
	if !ok || end.Error == nil {
		return
	}
	a, ok := ctx.Value(auditedKey{}).(*audited)
	if !ok || a.done.Load() {
		return
	}
	p, via, _ := n.s.identify(ctx)
	n.s.audit(ctx, p, via, a.method, nil, end.Error)
}

func (auditNet) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (auditNet) HandleConn(context.Context, stats.ConnStats)                       {}

// protoCodec is grpc-go's proto codec, except that a message it cannot
// decode is reset to empty, remembered in undecodable, and reported as
// decoded; decodeRefusal then refuses it.
type protoCodec struct{ encoding.CodecV2 }

// undecodable maps a message protoCodec could not decode to why. Every
// entry is taken out by the decodeRefusal that follows the decode (unary
// methods through guardedRegistrar, streams through ctxStream).
var undecodable sync.Map

func newProtoCodec() protoCodec { return protoCodec{encoding.GetCodecV2("proto")} }

func (c protoCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	// Empty rather than half decoded, so that nothing could act on a
	// part of it even if a path forgot to ask decodeRefusal.
	proto.Reset(m)
	u := undecoded{err: err, field: "body"}
	if f := utf8Field(m.ProtoReflect().Descriptor(), data.Materialize(), ""); f != "" {
		u.field = f
	}
	undecodable.Store(v, u)
	return nil
}

// undecoded is why a message did not decode, and the field at fault
// ("body" when it is the wire format itself).
type undecoded struct {
	err   error
	field string
}

// utf8Field is the path of the first string field in b, a message of md,
// that is not valid UTF-8; "" if there is none or b does not parse that
// far. (protobuf-go's error does not name the field.)
func utf8Field(md protoreflect.MessageDescriptor, b []byte, prefix string) string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return ""
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		switch {
		case fd == nil:
		case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
			return prefix + string(fd.Name())
		case fd.Kind() == protoreflect.MessageKind:
			if f := utf8Field(fd.Message(), v, prefix+string(fd.Name())+"."); f != "" {
				return f
			}
		}
	}
	return ""
}

// decodeRefusal is err, or the refusal of m when protoCodec could not
// decode it: INVALID_ARGUMENT, BAD_INPUT, naming the string field with
// invalid UTF-8 or else "body" (as the HTTP side names a body it cannot
// decode). It takes m's mark out either way.
func decodeRefusal(m any, err error) error {
	u, ok := undecodable.LoadAndDelete(m)
	if !ok || err != nil {
		return err
	}
	cause := u.(undecoded)
	msg := fmt.Sprintf("the request is not a valid protobuf message: %v", cause.err)
	return withDetails(codes.InvalidArgument, msg, ReasonBadInput, []badinput.Violation{{Field: cause.field, Description: msg}})
}

// guardedRegistrar registers services with every unary method's decoder
// wrapped, so that a request refused while decoding is answered and audited
// by refuseUndecoded.
type guardedRegistrar struct{ s *Server }

func (g guardedRegistrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = slices.Clone(desc.Methods)
	for i := range d.Methods {
		handler, method := d.Methods[i].Handler, "/"+d.ServiceName+"/"+d.Methods[i].MethodName
		d.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
			return handler(srv, ctx, func(m any) error {
				err := dec(m)
				// Asked even when dec failed: grpc-go decodes a second
				// message of a unary call into m to refuse it, and its
				// mark must not outlive the call.
				refusal := decodeRefusal(m, err)
				if err != nil {
					return err // grpc-go has answered already; auditNet records it
				}
				if refusal != nil {
					return g.s.refuseUndecoded(ctx, method, refusal)
				}
				return nil
			}, in)
		}
	}
	g.s.grpc.RegisterService(&d, impl)
}

// refuseUndecoded answers a unary call whose message was refused while it
// was decoded as authorise would have, in the same order (who is calling,
// may they call this), and only then with the decoding refusal; and audits
// the answer, since authorise never sees the call.
func (s *Server) refuseUndecoded(ctx context.Context, method string, decodeErr error) error {
	markAudited(ctx)
	p, via, err := s.identify(ctx)
	if err == nil && authz.Decide(p, method) == authz.Deny {
		err = denied("%s may not call %s", p, method)
	}
	if err == nil {
		err = decodeErr
	}
	if aerr := s.audit(ctx, p, via, method, nil, err); aerr != nil {
		return aerr
	}
	return err
}

// unknownMethod answers a call of a method the service does not have. As a
// handler rather than grpc-go's router's own answer, the call goes through
// authorise and is audited like any other: a caller the authorisation
// matrix does not let call the method (every method outside the matrix) is
// denied, and one it does (a service this instance does not run, such as
// the analyst API without a detector) is told UNIMPLEMENTED.
func unknownMethod(_ any, ss grpc.ServerStream) error {
	m, _ := grpc.MethodFromServerStream(ss)
	return withDetails(codes.Unimplemented, fmt.Sprintf("%s is not a method of this service", m), ReasonUnknownMethod, nil)
}

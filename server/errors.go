package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/internal/filter"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/storage"
)

// errorDomain is the ErrorInfo domain of every error this service returns.
const errorDomain = "chemledger.dev"

// Reasons are the machine-readable ErrorInfo reasons clients can switch on.
const (
	ReasonBadInput         = "BAD_INPUT"
	ReasonBadFilter        = "BAD_FILTER"
	ReasonBadPageToken     = "BAD_PAGE_TOKEN"
	ReasonKeyRevoked       = "KEY_REVOKED"
	ReasonSubmissionReuse  = "SUBMISSION_ID_REUSED"
	ReasonEntryNotFound    = "ENTRY_NOT_FOUND"
	ReasonTreeSize         = "TREE_SIZE_OUT_OF_RANGE"
	ReasonUnavailable      = "LEDGER_UNAVAILABLE"
	ReasonNoSpace          = "NO_SPACE"
	ReasonInternal         = "INTERNAL"
	ReasonCanceled         = "CANCELED"
	ReasonBodyTooLarge     = "BODY_TOO_LARGE"
	ReasonFlagNotFound     = "FLAG_NOT_FOUND"
	ReasonShipmentNotFound = "SHIPMENT_NOT_FOUND"
	ReasonDuplicateEvent   = "DUPLICATE_EVENT"
	ReasonUnauthenticated  = "UNAUTHENTICATED"
	ReasonDenied           = "PERMISSION_DENIED"
	ReasonRateLimited      = "RATE_LIMITED"
	ReasonAuditFailed      = "AUDIT_UNAVAILABLE"
	ReasonMemberChange     = "MEMBER_CHANGE_NOT_APPLICABLE"
	ReasonUnknownMethod    = "UNKNOWN_METHOD"
	ReasonMirror           = "MIRROR_READ_ONLY"
)

// errNoShipment means no entry carries a shipment reference.
var errNoShipment = errors.New("no entries for this shipment")

// errBadPageToken marks a page token that is not one of ours.
var errBadPageToken = errors.New("invalid page token")

// toStatus is the one place where domain errors become gRPC statuses. Every
// status carries ErrorInfo; bad input also carries BadRequest field
// violations. Unknown failures become a generic Internal error and the
// cause is logged, never sent.
func toStatus(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var (
		bad     *badinput.Error
		fe      *filter.Error
		revoked *envelope.RevokedError
	)
	switch {
	case errors.As(err, &bad):
		return withDetails(codes.InvalidArgument, err.Error(), ReasonBadInput, bad.Violations)
	case errors.As(err, &fe):
		return withDetails(codes.InvalidArgument, fe.Error(), ReasonBadFilter, []badinput.Violation{{Field: "filter", Description: fe.Error()}})
	case errors.Is(err, errNoShipment):
		return withDetails(codes.NotFound, err.Error(), ReasonShipmentNotFound, nil)
	case errors.Is(err, derive.ErrNoFlag):
		return withDetails(codes.NotFound, err.Error(), ReasonFlagNotFound, nil)
	case errors.Is(err, errBadPageToken), errors.Is(err, derive.ErrBadPageToken):
		return withDetails(codes.InvalidArgument, err.Error(), ReasonBadPageToken, []badinput.Violation{{Field: "page_token", Description: err.Error()}})
	case errors.As(err, &revoked):
		return withDetails(codes.PermissionDenied, err.Error(), ReasonKeyRevoked, []badinput.Violation{{Field: revoked.Field, Description: "the key has been revoked"}})
	case errors.Is(err, ledger.ErrConflict):
		return withDetails(codes.AlreadyExists, err.Error(), ReasonSubmissionReuse, []badinput.Violation{{Field: "submission_id", Description: "already used for a different envelope; choose a new id"}})
	case errors.Is(err, ledger.ErrDuplicateEvent):
		return withDetails(codes.AlreadyExists, err.Error(), ReasonDuplicateEvent, []badinput.Violation{{Field: "envelope.payload", Description: "this event (by its member and event id) is already in the log"}})
	case errors.Is(err, ledger.ErrNotFound):
		return withDetails(codes.NotFound, err.Error(), ReasonEntryNotFound, nil)
	case errors.Is(err, ledger.ErrTreeSize):
		return withDetails(codes.OutOfRange, err.Error(), ReasonTreeSize, nil)
	case errors.Is(err, ledger.ErrMirror):
		return withDetails(codes.FailedPrecondition, err.Error(), ReasonMirror, nil)
	case errors.Is(err, ledger.ErrClosed):
		return withDetails(codes.Unavailable, "the ledger is shutting down; retry", ReasonUnavailable, nil)
	case errors.Is(err, storage.ErrNoSpace):
		log.Error("out of space", "err", err)
		return withDetails(codes.ResourceExhausted, "the ledger has no space left to write; nothing was written", ReasonNoSpace, nil)
	case errors.Is(err, context.Canceled):
		return withDetails(codes.Canceled, "canceled", ReasonCanceled, nil)
	case errors.Is(err, context.DeadlineExceeded):
		return withDetails(codes.DeadlineExceeded, "deadline exceeded", ReasonCanceled, nil)
	default:
		log.Error("internal error", "err", err)
		return withDetails(codes.Internal, "internal error", ReasonInternal, nil)
	}
}

// withDetails is a status with our ErrorInfo, the field violations if any,
// and any further details (RetryInfo).
// reasonOf is a status's ErrorInfo reason ("" without one).
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

func withDetails(code codes.Code, msg, reason string, vs []badinput.Violation, extra ...protoadapt.MessageV1) error {
	st := status.New(code, msg)
	details := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: errorDomain}}, extra...)
	if len(vs) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range vs {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		details = append(details, br)
	}
	if withD, err := st.WithDetails(details...); err == nil {
		st = withD
	}
	return st.Err()
}

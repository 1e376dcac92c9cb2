package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Item is one envelope of a bulk submission.
type Item struct {
	SubmissionID string
	Envelope     []byte
}

// BulkResult is the verified outcome of one item of a bulk submission.
type BulkResult struct {
	// Position is the item's place in the stream, from 0.
	Position     uint64
	SubmissionID string
	// Index and LeafHash say where an accepted item is in the log.
	Index    uint64
	LeafHash []byte
	// Err is why the log refused the item, an *ItemError; nil when the
	// item was accepted.
	Err error
	// Checkpoint is the verified checkpoint of the batch that answered the
	// item; an accepted item is in its tree (VerifyInclusion proves it).
	Checkpoint checkpoint.Checkpoint
}

// ItemError is the log's refusal of one item, with the code, reason and
// field violations a unary call would have carried in its status. It also
// converts to that status (status.FromError, status.Code).
type ItemError struct {
	Code            codes.Code
	Message         string
	Reason          string
	FieldViolations []FieldViolation
}

// FieldViolation names a field of the submission and what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
}

func (e *ItemError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %s", e.Code, e.Message)
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	for _, v := range e.FieldViolations {
		fmt.Fprintf(&b, "; %s: %s", v.Field, v.Description)
	}
	return b.String()
}

// GRPCStatus returns the refusal as the status a unary call would have
// returned.
func (e *ItemError) GRPCStatus() *status.Status {
	s := status.New(e.Code, e.Message)
	var details []protoadapt.MessageV1
	if e.Reason != "" {
		details = append(details, &errdetails.ErrorInfo{Reason: e.Reason})
	}
	if len(e.FieldViolations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range e.FieldViolations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		details = append(details, br)
	}
	if len(details) == 0 {
		return s
	}
	if withDetails, err := s.WithDetails(details...); err == nil {
		return withDetails
	}
	return s
}

// AsItemError reports whether err is a refusal by the log, from a bulk item
// or a unary call's gRPC status, and returns it in one shape. Verification
// failures and client-side errors are not refusals.
func AsItemError(err error) (*ItemError, bool) {
	if err == nil {
		return nil, false
	}
	var ie *ItemError
	if errors.As(err, &ie) {
		return ie, true
	}
	if errors.Is(err, ErrVerification) {
		return nil, false
	}
	// Not status.FromError: for a wrapped status it puts the whole
	// wrapping text in the message.
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	st := se.GRPCStatus()
	if st.Code() == codes.OK {
		return nil, false
	}
	ie = &ItemError{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			ie.Reason = d.GetReason()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				ie.FieldViolations = append(ie.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return ie, true
}

func itemError(pb *chemledgerv1.ItemError) *ItemError {
	ie := &ItemError{Code: codes.Code(pb.GetCode()), Message: pb.GetMessage(), Reason: pb.GetReason()}
	if ie.Code == codes.OK {
		// An error that claims success is still an error.
		ie.Code = codes.Unknown
	}
	for _, v := range pb.GetFieldViolations() {
		ie.FieldViolations = append(ie.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
	}
	return ie
}

// SubmitStream submits items over one bulk stream, sending while it receives,
// and calls onResult (on the caller's goroutine) for every item in order as
// the log answers it. Each answer is verified: the batch checkpoint must be
// signed by the log, answers must come in order for items that were sent,
// and an accepted item's leaf hash must be the hash of the envelope sent at
// its position and its index inside the checkpoint's tree. A refused item is
// reported through BulkResult.Err and does not stop the stream; a failed
// check (ErrVerification) or a broken stream does, and is returned.
func (c *Client) SubmitStream(ctx context.Context, items iter.Seq[Item], onResult func(BulkResult)) error {
	if onResult == nil {
		onResult = func(BulkResult) {}
	}
	if _, err := c.logVerifier(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.BulkCreateEntries(ctx)
	if err != nil {
		return fmt.Errorf("bulk create entries: %w", err)
	}
	var sent sentItems
	sendDone := make(chan error, 1)
	go func() { sendDone <- sendAll(ctx, stream, items, &sent) }()

	b := batchChecker{c: c, sent: &sent}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = b.check(ctx, resp, onResult)
		} else {
			err = fmt.Errorf("bulk create entries: %w", err)
		}
		if err != nil {
			cancel()
			<-sendDone
			return err
		}
	}
	if err := <-sendDone; err != nil {
		return err
	}
	if n := sent.len(); b.next != n {
		return fmt.Errorf("bulk create entries: the log answered %d of %d items", b.next, n)
	}
	return nil
}

// sentItems records what was sent at each position, for the receiver to
// check answers against.
type sentItems struct {
	mu    sync.Mutex
	items []sentItem
}

type sentItem struct {
	id       string
	leafHash []byte
}

func (s *sentItems) add(it sentItem) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, it)
	return uint64(len(s.items) - 1)
}

func (s *sentItems) get(pos uint64) (sentItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pos >= uint64(len(s.items)) {
		return sentItem{}, false
	}
	return s.items[pos], true
}

func (s *sentItems) len() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.items))
}

func sendAll(ctx context.Context, stream grpc.BidiStreamingClient[chemledgerv1.BulkCreateEntriesRequest, chemledgerv1.BulkCreateEntriesResponse], items iter.Seq[Item], sent *sentItems) error {
	for it := range items {
		if ctx.Err() != nil {
			return nil // the receiver stopped the stream and reports why
		}
		// Record before sending: the answer may come back before Send
		// returns.
		pos := sent.add(sentItem{id: it.SubmissionID, leafHash: checkpoint.LeafHash(it.Envelope)})
		if err := stream.Send(&chemledgerv1.BulkCreateEntriesRequest{SubmissionId: it.SubmissionID, Envelope: it.Envelope}); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil // the stream ended; Recv has the status
			}
			return fmt.Errorf("bulk create entries: send item %d: %w", pos, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("bulk create entries: close send: %w", err)
	}
	return nil
}

// batchChecker verifies the answers of a bulk stream, batch by batch.
type batchChecker struct {
	c        *Client
	sent     *sentItems
	next     uint64 // the position the next answer must be for
	lastSize uint64
}

func (b *batchChecker) check(ctx context.Context, resp *chemledgerv1.BulkCreateEntriesResponse, onResult func(BulkResult)) error {
	cp, _, err := b.c.openCheckpoint(ctx, resp.GetCheckpoint())
	if err != nil {
		return fmt.Errorf("bulk batch at position %d: %w", b.next, err)
	}
	if cp.Size < b.lastSize {
		return fmt.Errorf("bulk batch at position %d: %w: the checkpoint's tree shrank from size %d to %d", b.next, ErrVerification, b.lastSize, cp.Size)
	}
	b.lastSize = cp.Size
	for _, r := range resp.GetResults() {
		if r.GetPosition() != b.next {
			return fmt.Errorf("%w: the log answered position %d where position %d was due", ErrVerification, r.GetPosition(), b.next)
		}
		it, ok := b.sent.get(r.GetPosition())
		if !ok {
			return fmt.Errorf("%w: the log answered position %d, which was not sent", ErrVerification, r.GetPosition())
		}
		if r.GetSubmissionId() != it.id {
			return fmt.Errorf("%w: position %d was sent as submission %q, the log answered for %q", ErrVerification, r.GetPosition(), it.id, r.GetSubmissionId())
		}
		res := BulkResult{Position: r.GetPosition(), SubmissionID: it.id, Checkpoint: cp}
		if r.GetError() != nil {
			res.Err = itemError(r.GetError())
		} else {
			if !bytes.Equal(r.GetLeafHash(), it.leafHash) {
				return fmt.Errorf("%w: the leaf hash %x for position %d (%q) is not the hash of the envelope sent (%x)",
					ErrVerification, r.GetLeafHash(), r.GetPosition(), it.id, it.leafHash)
			}
			if r.GetIndex() >= cp.Size {
				return fmt.Errorf("%w: position %d (%q) was given index %d, outside the checkpoint's tree of size %d",
					ErrVerification, r.GetPosition(), it.id, r.GetIndex(), cp.Size)
			}
			res.Index, res.LeafHash = r.GetIndex(), it.leafHash
		}
		b.next++
		onResult(res)
	}
	return nil
}

package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/internal/failpoint"
	"github.com/chemledger/chemledger/internal/filter"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Page sizes of ListEntries.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// ledgerService implements chemledger.v1.LedgerService. Handlers are thin:
// check the request, call the ledger, map the result.
type ledgerService struct {
	// Embedded so that a new RPC without an implementation does not compile.
	chemledgerv1.UnsafeLedgerServiceServer

	ledger      *ledger.Ledger
	members     *members.Registry
	verifierKey string
	log         *slog.Logger
	// checkpoints, when set, is the witnessed checkpoint to serve in place
	// of the ledger's own (internal/cosign.Feeder).
	checkpoints CheckpointSource
	// recent is the newest entries, decoded once for every watch.
	recent *entryCache
	// hooks, when set, delivers webhook subscriptions.
	hooks *webhooks
}

// CheckpointSource serves the checkpoint clients get: with witnessing on,
// the newest one the witnesses were asked to cosign, with their
// cosignatures.
type CheckpointSource interface {
	Checkpoint() (checkpoint.Checkpoint, []byte)
}

// NewLedgerService returns the gRPC implementation of the ledger API.
func NewLedgerService(l *ledger.Ledger, reg *members.Registry, verifierKey string, log *slog.Logger) chemledgerv1.LedgerServiceServer {
	s := &ledgerService{ledger: l, members: reg, verifierKey: verifierKey, log: log}
	s.recent = newEntryCache(s)
	return s
}

func (s *ledgerService) CreateEntry(ctx context.Context, req *chemledgerv1.CreateEntryRequest) (*chemledgerv1.Receipt, error) {
	sub, err := s.admit(ctx, req.GetSubmissionId(), req.GetEnvelope())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	r, err := s.ledger.Submit(ctx, sub)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	return receiptProto(r), nil
}

// BulkCreateEntries admits items on every core at once, hands them to the
// sequencer in stream order (so the log keeps the sender's order), and
// answers them in that order as their batches commit.
func (s *ledgerService) BulkCreateEntries(stream chemledgerv1.LedgerService_BulkCreateEntriesServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()

	type slot struct {
		pos      uint64
		id       string
		admitted chan struct{}
		sub      ledger.Submission
		err      error
		outcome  <-chan ledger.Outcome
	}
	admitted := make(chan *slot, 1024)
	queued := make(chan *slot, 8192)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))

	// Receive and admit in parallel; pass slots on in order.
	caller := accessOf(ctx)
	recvErr := make(chan error, 1)
	go func() {
		defer close(admitted)
		for pos := uint64(0); ; pos++ {
			req, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					recvErr <- err
				}
				close(recvErr)
				return
			}
			failpoint.Inject("server/bulk-mid-stream") // an item received, not admitted
			if caller.throttle != nil && pos > 0 {
				if err := caller.throttle(ctx); err != nil {
					if ctx.Err() == nil {
						// The next token is due after the deadline.
						err = rateLimited(caller.principal.Member, 0)
					}
					recvErr <- toStatus(s.log, err)
					close(recvErr)
					return
				}
			}
			sl := &slot{pos: pos, id: req.GetSubmissionId(), admitted: make(chan struct{})}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				close(recvErr)
				return
			}
			go func() {
				defer func() { <-sem; close(sl.admitted) }()
				sl.sub, sl.err = s.admit(ctx, req.GetSubmissionId(), req.GetEnvelope())
			}()
			select {
			case admitted <- sl:
			case <-ctx.Done():
				close(recvErr)
				return
			}
		}
	}()

	// Enqueue in stream order.
	go func() {
		defer close(queued)
		for sl := range admitted {
			<-sl.admitted
			if sl.err == nil {
				sl.outcome, sl.err = s.ledger.Enqueue(ctx, sl.sub, false)
			}
			select {
			case queued <- sl:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Answer in stream order, one response per run of ready results.
	const maxResults = 1000
	var resp *chemledgerv1.BulkCreateEntriesResponse
	flush := func() error {
		if resp == nil {
			return nil
		}
		// Every result in resp is committed, so the latest checkpoint
		// covers them all.
		cp, n := s.ledger.Checkpoint()
		resp.Checkpoint = checkpointProto(cp, n)
		err := stream.Send(resp)
		resp = nil
		return err
	}
	for {
		var sl *slot
		select {
		case sl = <-queued:
		default:
			if err := flush(); err != nil {
				return err
			}
			sl = <-queued
		}
		if sl == nil {
			break
		}
		res := &chemledgerv1.BulkResult{Position: sl.pos, SubmissionId: sl.id}
		if sl.err == nil {
			select {
			case o := <-sl.outcome:
				if o.Err != nil {
					sl.err = o.Err
				} else {
					res.Index, res.LeafHash = o.Receipt.Index, o.Receipt.LeafHash
				}
			case <-ctx.Done():
				return toStatus(s.log, ctx.Err())
			}
		}
		if sl.err != nil {
			st := toStatus(s.log, sl.err)
			res.Error = itemError(st)
			if caller.refuseItem != nil {
				// Refused, though the stream goes on: audited as
				// CreateEntry refusals are, before the answer.
				caller.refuseItem(sl.id, st)
			}
		}
		if resp == nil {
			resp = &chemledgerv1.BulkCreateEntriesResponse{}
		}
		resp.Results = append(resp.Results, res)
		if len(resp.Results) >= maxResults {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err, ok := <-recvErr; ok && err != nil {
		return err
	}
	return nil
}

// itemError carries a status into a bulk result.
func itemError(err error) *chemledgerv1.ItemError {
	st := status.Convert(err)
	ie := &chemledgerv1.ItemError{Code: int32(st.Code()), Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			ie.Reason = d.GetReason()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				ie.FieldViolations = append(ie.FieldViolations, &chemledgerv1.FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return ie
}

func (s *ledgerService) GetEntry(ctx context.Context, req *chemledgerv1.GetEntryRequest) (*chemledgerv1.Entry, error) {
	a := accessOf(ctx)
	e, err := s.ledger.Entry(ctx, req.GetIndex())
	if a.scope == authz.Own && (err != nil || e.Meta.Member != a.principal.Member) {
		// The same answer whether the entry is another member's or
		// does not exist.
		return nil, denied("%s may read only its own entries", a.principal)
	}
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	return s.scoped(a, e), nil
}

// pageSize is a request's page size: the default for 0, capped at the
// maximum; a negative one is bad input.
func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, badinput.New("page_size", "must not be negative")
	case n == 0:
		return DefaultPageSize, nil
	case n > MaxPageSize:
		return MaxPageSize, nil
	}
	return int(n), nil
}

func (s *ledgerService) ListEntries(ctx context.Context, req *chemledgerv1.ListEntriesRequest) (*chemledgerv1.ListEntriesResponse, error) {
	f, err := filter.Parse(req.GetFilter(), kindFromFilter)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	a := accessOf(ctx)
	if a.scope == authz.Own {
		if f.Member != "" && f.Member != a.principal.Member {
			return nil, denied("%s may list only its own entries", a.principal)
		}
		f.Member = a.principal.Member
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	start, err := decodePageToken(req.GetPageToken(), req.GetFilter())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	entries, next, done, err := s.ledger.List(ctx, f, start, size)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	resp := &chemledgerv1.ListEntriesResponse{}
	for _, e := range entries {
		resp.Entries = append(resp.Entries, s.scoped(a, e))
	}
	if !done {
		resp.NextPageToken = encodePageToken(req.GetFilter(), next)
	}
	return resp, nil
}

func (s *ledgerService) GetLog(ctx context.Context, req *chemledgerv1.GetLogRequest) (*chemledgerv1.LogInfo, error) {
	info := &chemledgerv1.LogInfo{Origin: s.ledger.Origin(), VerifierKey: s.verifierKey}
	if s.hooks != nil {
		info.WebhookPublicKey = s.hooks.pub
	}
	return info, nil
}

func (s *ledgerService) GetCheckpoint(ctx context.Context, req *chemledgerv1.GetCheckpointRequest) (*chemledgerv1.Checkpoint, error) {
	if s.checkpoints != nil {
		cp, n := s.checkpoints.Checkpoint()
		return checkpointProto(cp, n), nil
	}
	cp, n := s.ledger.Checkpoint()
	return checkpointProto(cp, n), nil
}

func (s *ledgerService) GetInclusionProof(ctx context.Context, req *chemledgerv1.GetInclusionProofRequest) (*chemledgerv1.InclusionProof, error) {
	e, err := s.ledger.Entry(ctx, req.GetIndex())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	size, hashes, err := s.ledger.InclusionProof(ctx, req.GetIndex(), req.GetTreeSize())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	resp := &chemledgerv1.InclusionProof{Index: req.GetIndex(), TreeSize: size, LeafHash: e.LeafHash, Hashes: hashes}
	if cp, n := s.ledger.Checkpoint(); cp.Size == size {
		resp.Checkpoint = checkpointProto(cp, n)
	} else if n, err := s.ledger.CheckpointAt(ctx, size); err == nil {
		if c, err := checkpoint.Parse(noteBody(n)); err == nil {
			resp.Checkpoint = checkpointProto(c, n)
		}
	}
	return resp, nil
}

func (s *ledgerService) GetConsistencyProof(ctx context.Context, req *chemledgerv1.GetConsistencyProofRequest) (*chemledgerv1.ConsistencyProof, error) {
	if req.GetFirst() == 0 {
		return nil, toStatus(s.log, badinput.New("first", "must be at least 1: every tree extends the empty tree, with no proof"))
	}
	second, hashes, err := s.ledger.ConsistencyProof(ctx, req.GetFirst(), req.GetSecond())
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	return &chemledgerv1.ConsistencyProof{First: req.GetFirst(), Second: second, Hashes: hashes}, nil
}

func (s *ledgerService) entryProto(e *ledger.Entry) *chemledgerv1.Entry {
	out := &chemledgerv1.Entry{
		Index:          e.Index,
		Leaf:           e.Leaf,
		LeafHash:       e.LeafHash,
		Member:         e.Meta.Member,
		SubmissionId:   e.Meta.SubmissionID,
		IntegratedTime: timestamppb.New(timeOf(e.Meta.IntegratedTime)),
	}
	// Entries were admitted, so they parse; if one no longer does (the
	// schema moved on), the exact leaf is still served.
	if env, err := envelope.Parse(e.Leaf); err == nil {
		out.PayloadType = env.PayloadType
		if p, err := envelope.DecodePayload(env); err == nil {
			out.Event, out.Registry, out.Disposition = p.Event, p.Registry, p.Disposition
		}
	}
	return out
}

// scoped is an entry as the caller's scope shows it: whole, or (for
// auditors) only what checks the tree: index, leaf hash, member and time.
func (s *ledgerService) scoped(a access, e *ledger.Entry) *chemledgerv1.Entry {
	if a.scope == authz.Hashes {
		return hashesOnly(e)
	}
	return s.entryProto(e)
}

// hashesOnly is an entry as an auditor sees it.
func hashesOnly(e *ledger.Entry) *chemledgerv1.Entry {
	return &chemledgerv1.Entry{Index: e.Index, LeafHash: e.LeafHash, Member: e.Meta.Member, IntegratedTime: timestamppb.New(timeOf(e.Meta.IntegratedTime))}
}

func receiptProto(r *ledger.Receipt) *chemledgerv1.Receipt {
	return &chemledgerv1.Receipt{
		SubmissionId:   r.SubmissionID,
		Index:          r.Index,
		LeafHash:       r.LeafHash,
		Checkpoint:     checkpointProto(r.Checkpoint, r.CheckpointNote),
		InclusionProof: r.Proof,
		IntegratedTime: timestamppb.New(r.IntegratedTime),
		Member:         r.Member,
	}
}

func checkpointProto(c checkpoint.Checkpoint, n []byte) *chemledgerv1.Checkpoint {
	return &chemledgerv1.Checkpoint{Note: string(n), Size: c.Size, RootHash: c.Root}
}

func fieldf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// Package clienttest runs an in-process chemledger log for tests of the
// client and the CLI: a real gRPC server on 127.0.0.1 over an in-memory
// RFC 6962 tree, with checkpoints signed by a fresh note key. A test can
// tamper with any answer to play a lying log, or rewrite its history.
//
// It must not be imported by non-test code.
package clienttest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Origin is the checkpoint origin, and key name, of every fake log.
const Origin = "test.example/log"

// Config configures a fake log.
type Config struct {
	// Members verifies envelope signatures and names the member; nil
	// accepts any well-formed envelope and takes its first key id as the
	// member.
	Members *members.Registry
	// BatchSize is how many bulk items make a committed batch (default 2);
	// the rest are committed when the client closes its side.
	BatchSize int
}

// Server is a fake log.
type Server struct {
	// Addr is the gRPC address, 127.0.0.1:port.
	Addr string
	// VerifierKey is the note verifier key of the log's checkpoints.
	VerifierKey string

	cfg    Config
	signer note.Signer
	srv    *grpc.Server

	mu      sync.Mutex
	tree    *testonly.Tree
	entries []*chemledgerv1.Entry
	byID    map[string]uint64
	tamper  func(proto.Message)
}

// NewServer starts a fake log that stops when the test ends.
func NewServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a fake log; Close stops it.
func Start(cfg Config) (*Server, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 2
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, Origin)
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:        lis.Addr().String(),
		VerifierKey: vkey,
		cfg:         cfg,
		signer:      signer,
		srv:         grpc.NewServer(),
		tree:        testonly.New(rfc6962.DefaultHasher),
		byID:        map[string]uint64{},
	}
	chemledgerv1.RegisterLedgerServiceServer(s.srv, &service{s: s})
	go s.srv.Serve(lis)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Stop() }

// SetTamper installs f, which sees every answer (a *Receipt, *Entry,
// *ListEntriesResponse, *Checkpoint, *InclusionProof, *ConsistencyProof,
// *LogInfo or *BulkCreateEntriesResponse) just before it is sent and may
// change it. nil removes it. f may call the Server's methods.
func (s *Server) SetTamper(f func(proto.Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tamper = f
}

// AppendLeaves appends raw leaves without any checks, as entries with
// submission ids "raw-<index>".
func (s *Server) AppendLeaves(leaves ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range leaves {
		s.appendLocked("raw-"+strconv.FormatUint(s.tree.Size(), 10), l, "", nil)
	}
}

// Rewrite plays a log that rewrites its history: it keeps the first keep
// entries, drops the rest, and appends leaves in their place.
func (s *Server) Rewrite(keep uint64, leaves ...[]byte) {
	s.mu.Lock()
	old := s.entries[:keep]
	s.tree = testonly.New(rfc6962.DefaultHasher)
	s.entries = nil
	s.byID = map[string]uint64{}
	for _, e := range old {
		s.appendLocked(e.GetSubmissionId(), e.GetLeaf(), e.GetMember(), e.GetEvent())
	}
	s.mu.Unlock()
	s.AppendLeaves(leaves...)
}

// Size is the current tree size.
func (s *Server) Size() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tree.Size()
}

// Sign signs a checkpoint with the log's key, for a tamper function that
// wants a well-signed lie.
func (s *Server) Sign(c checkpoint.Checkpoint) []byte {
	n, err := checkpoint.Sign(c, s.signer)
	if err != nil {
		panic(err)
	}
	return n
}

// InclusionProof is the honest proof of index in the tree of size size.
func (s *Server) InclusionProof(index, size uint64) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.tree.InclusionProof(index, size)
	if err != nil {
		panic(err)
	}
	return p
}

func (s *Server) appendLocked(id string, leaf []byte, member string, ev *chemledgerv1.ShipmentEvent) uint64 {
	idx := s.tree.Size()
	s.tree.AppendData(leaf)
	e := &chemledgerv1.Entry{
		Index:        idx,
		Leaf:         leaf,
		LeafHash:     checkpoint.LeafHash(leaf),
		Member:       member,
		SubmissionId: id,
		// A fixed clock keeps test output stable.
		IntegratedTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, int(idx), 0, time.UTC)),
		Event:          ev,
	}
	if env, err := envelope.Parse(leaf); err == nil {
		e.PayloadType = env.PayloadType
	}
	s.entries = append(s.entries, e)
	s.byID[id] = idx
	return idx
}

func (s *Server) checkpointLocked() *chemledgerv1.Checkpoint {
	c := checkpoint.Checkpoint{Origin: Origin, Size: s.tree.Size(), Root: s.tree.Hash()}
	return &chemledgerv1.Checkpoint{Note: string(s.Sign(c)), Size: c.Size, RootHash: c.Root}
}

// refusal is why the fake refuses a submission, in the shape of both a
// unary status and a bulk ItemError.
type refusal struct {
	code       codes.Code
	msg        string
	reason     string
	violations []badinput.Violation
}

func (r *refusal) status() error {
	st := status.New(r.code, r.msg)
	br := &errdetails.BadRequest{}
	for _, v := range r.violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
	}
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: r.reason, Domain: "test.example"}, br); err == nil {
		st = d
	}
	return st.Err()
}

func (r *refusal) item() *chemledgerv1.ItemError {
	ie := &chemledgerv1.ItemError{Code: int32(r.code), Message: r.msg, Reason: r.reason}
	for _, v := range r.violations {
		ie.FieldViolations = append(ie.FieldViolations, &chemledgerv1.FieldViolation{Field: v.Field, Description: v.Description})
	}
	return ie
}

func invalid(err error) *refusal {
	r := &refusal{code: codes.InvalidArgument, msg: err.Error(), reason: "INVALID_INPUT"}
	var bad *badinput.Error
	if errors.As(err, &bad) {
		r.violations = bad.Violations
	}
	return r
}

var submissionIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// submitLocked checks and appends one envelope, or answers a duplicate with
// the original index.
func (s *Server) submitLocked(id string, env []byte) (uint64, *refusal) {
	if !submissionIDPattern.MatchString(id) {
		return 0, invalid(badinput.New("submission_id", "must be 1 to 128 letters, digits and -_.:"))
	}
	if idx, ok := s.byID[id]; ok {
		if string(s.entries[idx].GetLeaf()) == string(env) {
			return idx, nil
		}
		return 0, &refusal{code: codes.AlreadyExists, msg: fmt.Sprintf("submission %q exists with other bytes", id), reason: "SUBMISSION_ID_REUSED"}
	}
	e, err := envelope.Parse(env)
	if err != nil {
		return 0, invalid(err)
	}
	ev, err := envelope.DecodeEvent(e)
	if err != nil {
		return 0, invalid(err)
	}
	member := e.Signatures[0].KeyID
	if s.cfg.Members != nil {
		if member, err = envelope.Verify(e, s.cfg.Members.Key); err != nil {
			return 0, invalid(err)
		}
	}
	var v badinput.List
	if ev.GetEventId() == "" {
		v.Add("event.event_id", "required")
	}
	if ev.GetKind() == chemledgerv1.EventKind_EVENT_KIND_UNSPECIFIED {
		v.Add("event.kind", "required")
	}
	if err := v.Err(); err != nil {
		return 0, invalid(err)
	}
	return s.appendLocked(id, env, member, ev), nil
}

type service struct {
	chemledgerv1.UnsafeLedgerServiceServer
	s *Server
}

// answer runs the tamper function, outside the lock, on a fresh message.
func answer[M proto.Message](s *Server, m M) M {
	s.mu.Lock()
	f := s.tamper
	s.mu.Unlock()
	if f != nil {
		f(m)
	}
	return m
}

func (v *service) CreateEntry(_ context.Context, req *chemledgerv1.CreateEntryRequest) (*chemledgerv1.Receipt, error) {
	s := v.s
	s.mu.Lock()
	idx, ref := s.submitLocked(req.GetSubmissionId(), req.GetEnvelope())
	if ref != nil {
		s.mu.Unlock()
		return nil, ref.status()
	}
	e := s.entries[idx]
	proof, err := s.tree.InclusionProof(idx, s.tree.Size())
	if err != nil {
		s.mu.Unlock()
		return nil, status.Error(codes.Internal, err.Error())
	}
	r := &chemledgerv1.Receipt{
		SubmissionId:   e.GetSubmissionId(),
		Index:          idx,
		LeafHash:       e.GetLeafHash(),
		Checkpoint:     s.checkpointLocked(),
		InclusionProof: proof,
		IntegratedTime: e.GetIntegratedTime(),
		Member:         e.GetMember(),
	}
	s.mu.Unlock()
	return answer(s, r), nil
}

func (v *service) BulkCreateEntries(stream grpc.BidiStreamingServer[chemledgerv1.BulkCreateEntriesRequest, chemledgerv1.BulkCreateEntriesResponse]) error {
	s := v.s
	var pending []*chemledgerv1.BulkCreateEntriesRequest
	var pos uint64
	flush := func() error {
		resp := &chemledgerv1.BulkCreateEntriesResponse{}
		s.mu.Lock()
		for _, req := range pending {
			r := &chemledgerv1.BulkResult{Position: pos, SubmissionId: req.GetSubmissionId()}
			if idx, ref := s.submitLocked(req.GetSubmissionId(), req.GetEnvelope()); ref != nil {
				r.Error = ref.item()
			} else {
				r.Index, r.LeafHash = idx, s.entries[idx].GetLeafHash()
			}
			resp.Results = append(resp.Results, r)
			pos++
		}
		resp.Checkpoint = s.checkpointLocked()
		s.mu.Unlock()
		pending = nil
		return stream.Send(answer(s, resp))
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if len(pending) > 0 {
				return flush()
			}
			return nil
		}
		if err != nil {
			return err
		}
		pending = append(pending, req)
		if len(pending) >= s.cfg.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

func (v *service) GetEntry(_ context.Context, req *chemledgerv1.GetEntryRequest) (*chemledgerv1.Entry, error) {
	s := v.s
	s.mu.Lock()
	if req.GetIndex() >= uint64(len(s.entries)) {
		s.mu.Unlock()
		return nil, status.Errorf(codes.NotFound, "no entry %d", req.GetIndex())
	}
	e := proto.Clone(s.entries[req.GetIndex()]).(*chemledgerv1.Entry)
	s.mu.Unlock()
	return answer(s, e), nil
}

// ListEntries knows one filter, member = "ID"; page tokens are the next
// index.
func (v *service) ListEntries(_ context.Context, req *chemledgerv1.ListEntriesRequest) (*chemledgerv1.ListEntriesResponse, error) {
	s := v.s
	var member string
	if f := strings.TrimSpace(req.GetFilter()); f != "" {
		m, ok := strings.CutPrefix(f, "member = ")
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "the fake log only filters on member = \"ID\"")
		}
		var err error
		if member, err = strconv.Unquote(m); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter: %v", err)
		}
	}
	start := 0
	if t := req.GetPageToken(); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "bad page token %q", t)
		}
		start = n
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = 50
	}
	resp := &chemledgerv1.ListEntriesResponse{}
	s.mu.Lock()
	i := start
	for ; i < len(s.entries) && len(resp.Entries) < size; i++ {
		if member == "" || s.entries[i].GetMember() == member {
			resp.Entries = append(resp.Entries, proto.Clone(s.entries[i]).(*chemledgerv1.Entry))
		}
	}
	if i < len(s.entries) {
		resp.NextPageToken = strconv.Itoa(i)
	}
	s.mu.Unlock()
	return answer(s, resp), nil
}

func (v *service) GetLog(context.Context, *chemledgerv1.GetLogRequest) (*chemledgerv1.LogInfo, error) {
	return answer(v.s, &chemledgerv1.LogInfo{Origin: Origin, VerifierKey: v.s.VerifierKey}), nil
}

func (v *service) GetCheckpoint(context.Context, *chemledgerv1.GetCheckpointRequest) (*chemledgerv1.Checkpoint, error) {
	s := v.s
	s.mu.Lock()
	cp := s.checkpointLocked()
	s.mu.Unlock()
	return answer(s, cp), nil
}

func (v *service) GetInclusionProof(_ context.Context, req *chemledgerv1.GetInclusionProofRequest) (*chemledgerv1.InclusionProof, error) {
	s := v.s
	s.mu.Lock()
	latest := s.tree.Size()
	size := req.GetTreeSize()
	if size == 0 {
		size = latest
	}
	if size > latest || req.GetIndex() >= size {
		s.mu.Unlock()
		return nil, status.Errorf(codes.InvalidArgument, "no entry %d in a tree of size %d (latest %d)", req.GetIndex(), size, latest)
	}
	hashes, err := s.tree.InclusionProof(req.GetIndex(), size)
	if err != nil {
		s.mu.Unlock()
		return nil, status.Error(codes.Internal, err.Error())
	}
	p := &chemledgerv1.InclusionProof{Index: req.GetIndex(), TreeSize: size, LeafHash: s.tree.LeafHash(req.GetIndex()), Hashes: hashes}
	if size == latest {
		p.Checkpoint = s.checkpointLocked()
	}
	s.mu.Unlock()
	return answer(s, p), nil
}

func (v *service) GetConsistencyProof(_ context.Context, req *chemledgerv1.GetConsistencyProofRequest) (*chemledgerv1.ConsistencyProof, error) {
	s := v.s
	s.mu.Lock()
	latest := s.tree.Size()
	second := req.GetSecond()
	if second == 0 {
		second = latest
	}
	if req.GetFirst() < 1 || req.GetFirst() > second || second > latest {
		s.mu.Unlock()
		return nil, status.Errorf(codes.InvalidArgument, "no consistency proof from %d to %d (latest %d)", req.GetFirst(), second, latest)
	}
	hashes, err := s.tree.ConsistencyProof(req.GetFirst(), second)
	s.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return answer(s, &chemledgerv1.ConsistencyProof{First: req.GetFirst(), Second: second, Hashes: hashes}), nil
}

// ListMembers lists the members of the configured registry, as ids and
// keys only: the fake log holds no member changes.
func (v *service) ListMembers(context.Context, *chemledgerv1.ListMembersRequest) (*chemledgerv1.ListMembersResponse, error) {
	resp := &chemledgerv1.ListMembersResponse{}
	if v.s.cfg.Members == nil {
		return resp, nil
	}
	for _, m := range v.s.cfg.Members.Members() {
		mi := &chemledgerv1.MemberInfo{Id: m.ID, Country: m.Country, Agency: m.Name, Roles: m.Roles, Status: chemledgerv1.MemberStatus_MEMBER_STATUS_ACTIVE}
		for _, k := range m.Keys {
			mi.Keys = append(mi.Keys, &chemledgerv1.MemberKeyInfo{KeyId: k.ID, Ed25519: k.Ed25519, Revoked: k.Revoked})
		}
		resp.Members = append(resp.Members, mi)
	}
	return answer(v.s, resp), nil
}

// GetTile is not served by the fake log: its clients read proofs.
func (v *service) GetTile(context.Context, *chemledgerv1.GetTileRequest) (*chemledgerv1.TileData, error) {
	return nil, status.Error(codes.Unimplemented, "the test log serves no tiles")
}

// GetEntryBundle is not served by the fake log.
func (v *service) GetEntryBundle(context.Context, *chemledgerv1.GetEntryBundleRequest) (*chemledgerv1.TileData, error) {
	return nil, status.Error(codes.Unimplemented, "the test log serves no entry bundles")
}

// WatchEntries is not served by the fake log: the client's verification
// of answers does not involve watches.
func (v *service) WatchEntries(*chemledgerv1.WatchEntriesRequest, grpc.ServerStreamingServer[chemledgerv1.WatchEntriesResponse]) error {
	return status.Error(codes.Unimplemented, "the fake log does not serve watches")
}

// ListWebhooks is not served by the fake log.
func (v *service) ListWebhooks(context.Context, *chemledgerv1.ListWebhooksRequest) (*chemledgerv1.ListWebhooksResponse, error) {
	return nil, status.Error(codes.Unimplemented, "the fake log has no webhooks")
}

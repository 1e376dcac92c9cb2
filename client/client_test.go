package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/client/clienttest"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// fixture is a fake log with one member, US-CBP, and a client that pins the
// log's key.
type fixture struct {
	srv    *clienttest.Server
	c      *client.Client
	signer envelope.Signer
}

func newFixture(tb testing.TB, opts ...client.Option) *fixture {
	tb.Helper()
	key, err := members.GenerateKey("US-CBP")
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := members.New([]members.Member{{ID: "US-CBP", Country: "US", Keys: []members.PublicKey{key.Public()}}})
	if err != nil {
		tb.Fatal(err)
	}
	srv := clienttest.NewServer(tb, clienttest.Config{Members: reg})
	if len(opts) == 0 {
		opts = []client.Option{client.WithLogVerifierKey(srv.VerifierKey)}
	}
	c, err := client.Dial(srv.Addr, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &fixture{srv: srv, c: c, signer: key.Signer()}
}

func event(id string) *chemledgerv1.ShipmentEvent {
	return &chemledgerv1.ShipmentEvent{
		EventId:         id,
		Kind:            chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		ShipmentRef:     "PEN-US-2026-000123",
		Chemical:        &chemledgerv1.Chemical{Cas: "39742-60-4", Name: "NPP"},
		Quantity:        &chemledgerv1.Quantity{Value: 25, Unit: "KGM"},
		LocationCountry: "US",
	}
}

func (f *fixture) envelope(tb testing.TB, ev *chemledgerv1.ShipmentEvent) []byte {
	tb.Helper()
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	env, err := envelope.Sign(envelope.PayloadTypeEventProto, payload, f.signer)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// prefill gives the log some history, so proofs have hashes to tamper with.
func (f *fixture) prefill(n int) {
	for i := range n {
		f.srv.AppendLeaves(fmt.Appendf(nil, "earlier leaf %d", i))
	}
}

// otherKeySign signs c with a key of the same name as the log's that is not
// the log's key.
func otherKeySign(tb testing.TB, origin string, c checkpoint.Checkpoint) string {
	tb.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := checkpoint.Sign(c, s)
	if err != nil {
		tb.Fatal(err)
	}
	return string(n)
}

func cpOf(pb *chemledgerv1.Checkpoint) checkpoint.Checkpoint {
	return checkpoint.Checkpoint{Origin: clienttest.Origin, Size: pb.GetSize(), Root: pb.GetRootHash()}
}

func TestSubmitEnvelope(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, srv *clienttest.Server, r *chemledgerv1.Receipt)
		want   string // substring of the error; "" accepts
	}{
		{name: "honest"},
		{
			name:   "wrong leaf hash",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.Receipt) { r.LeafHash[0] ^= 1 },
			want:   "is not the hash of the envelope sent",
		},
		{
			name:   "proof with a flipped bit",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.Receipt) { r.InclusionProof[0][7] ^= 0x10 },
			want:   "inclusion of leaf 5",
		},
		{
			name: "proof for the wrong index",
			tamper: func(_ *testing.T, srv *clienttest.Server, r *chemledgerv1.Receipt) {
				r.InclusionProof = srv.InclusionProof(r.Index-1, r.Checkpoint.Size)
			},
			want: "inclusion of leaf 5",
		},
		{
			name:   "receipt claims another index",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.Receipt) { r.Index-- },
			want:   "inclusion of leaf 4",
		},
		{
			name: "checkpoint signed by another key",
			tamper: func(t *testing.T, _ *clienttest.Server, r *chemledgerv1.Receipt) {
				r.Checkpoint.Note = otherKeySign(t, clienttest.Origin, cpOf(r.Checkpoint))
			},
			want: "no verifiable signatures",
		},
		{
			name: "checkpoint of another origin",
			tamper: func(_ *testing.T, srv *clienttest.Server, r *chemledgerv1.Receipt) {
				c := cpOf(r.Checkpoint)
				c.Origin = "other.example/log"
				r.Checkpoint.Note = string(srv.Sign(c))
			},
			want: `origin "other.example/log"`,
		},
		{
			name: "checkpoint of a tree without the entry",
			tamper: func(_ *testing.T, srv *clienttest.Server, r *chemledgerv1.Receipt) {
				c := cpOf(r.Checkpoint)
				c.Size--
				r.Checkpoint = &chemledgerv1.Checkpoint{Note: string(srv.Sign(c)), Size: c.Size, RootHash: c.Root}
			},
			want: "inclusion of leaf 5 in tree of size 5",
		},
		{
			name:   "checkpoint fields disagree with the note",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.Receipt) { r.Checkpoint.Size++ },
			want:   "differ from its signed note",
		},
		{
			name:   "no checkpoint",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.Receipt) { r.Checkpoint = nil },
			want:   "no checkpoint",
		},
		{
			name:   "receipt for another submission",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.Receipt) { r.SubmissionId = "US-CBP:other" },
			want:   `receipt is for submission "US-CBP:other"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.prefill(5)
			if tt.tamper != nil {
				f.srv.SetTamper(func(m proto.Message) {
					if r, ok := m.(*chemledgerv1.Receipt); ok {
						tt.tamper(t, f.srv, r)
					}
				})
			}
			env := f.envelope(t, event("EXP-1"))
			r, err := f.c.SubmitEnvelope(t.Context(), "US-CBP:EXP-1", env)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("SubmitEnvelope: %v", err)
				}
				if r.Index != 5 || r.Member != "US-CBP" || r.Checkpoint.Size != 6 || !bytes.Equal(r.LeafHash, checkpoint.LeafHash(env)) {
					t.Errorf("receipt = %+v, want index 5 by US-CBP in a tree of size 6", r)
				}
				if err := r.Checkpoint.VerifyInclusion(r.Index, r.LeafHash, r.Proof); err != nil {
					t.Errorf("the receipt's proof does not verify offline: %v", err)
				}
				return
			}
			if !errors.Is(err, client.ErrVerification) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SubmitEnvelope error = %v, want ErrVerification containing %q", err, tt.want)
			}
		})
	}
}

func TestSubmitRetryAndConflict(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	first, err := f.c.Submit(ctx, "US-CBP:EXP-1", event("EXP-1"), f.signer)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.c.Submit(ctx, "US-CBP:EXP-1", event("EXP-1"), f.signer)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.Index != first.Index || f.srv.Size() != 1 {
		t.Errorf("retry got index %d in a log of %d, want the original index %d in a log of 1", again.Index, f.srv.Size(), first.Index)
	}

	changed := event("EXP-1")
	changed.Remarks = "other bytes"
	_, err = f.c.Submit(ctx, "US-CBP:EXP-1", changed, f.signer)
	if got := status.Code(err); got != codes.AlreadyExists {
		t.Fatalf("same id, other bytes: code %v (%v), want AlreadyExists", got, err)
	}
	if ie, ok := client.AsItemError(err); !ok || ie.Reason != "SUBMISSION_ID_REUSED" {
		t.Errorf("AsItemError = %+v, %v; want reason SUBMISSION_ID_REUSED", ie, ok)
	}
	if errors.Is(err, client.ErrVerification) {
		t.Errorf("a refusal is not a verification failure: %v", err)
	}
}

func TestSubmitRefused(t *testing.T) {
	f := newFixture(t)
	ev := event("EXP-1")
	ev.Kind = chemledgerv1.EventKind_EVENT_KIND_UNSPECIFIED
	_, err := f.c.Submit(t.Context(), "US-CBP:EXP-1", ev, f.signer)
	ie, ok := client.AsItemError(err)
	if !ok {
		t.Fatalf("AsItemError(%v) failed", err)
	}
	want := []client.FieldViolation{{Field: "event.kind", Description: "required"}}
	if ie.Code != codes.InvalidArgument || !slices.Equal(ie.FieldViolations, want) {
		t.Errorf("refusal = %+v, want InvalidArgument with %v", ie, want)
	}
}

func TestSubmitStream(t *testing.T) {
	f := newFixture(t)
	f.prefill(3)
	bad := event("EXP-BAD")
	bad.Kind = chemledgerv1.EventKind_EVENT_KIND_UNSPECIFIED
	items := []client.Item{
		{SubmissionID: "US-CBP:EXP-1", Envelope: f.envelope(t, event("EXP-1"))},
		{SubmissionID: "US-CBP:EXP-BAD", Envelope: f.envelope(t, bad)},
		{SubmissionID: "US-CBP:EXP-2", Envelope: f.envelope(t, event("EXP-2"))},
		{SubmissionID: "bad id!", Envelope: f.envelope(t, event("EXP-3"))},
		{SubmissionID: "US-CBP:EXP-1", Envelope: f.envelope(t, event("EXP-1"))}, // a retry
	}
	var got []client.BulkResult
	if err := f.c.SubmitStream(t.Context(), slices.Values(items), func(r client.BulkResult) { got = append(got, r) }); err != nil {
		t.Fatalf("SubmitStream: %v", err)
	}
	if len(got) != len(items) {
		t.Fatalf("got %d results, want %d", len(got), len(items))
	}
	wantIndex := map[int]uint64{0: 3, 2: 4, 4: 3}
	for i, r := range got {
		if r.Position != uint64(i) || r.SubmissionID != items[i].SubmissionID {
			t.Errorf("result %d = position %d, id %q; want %d, %q", i, r.Position, r.SubmissionID, i, items[i].SubmissionID)
		}
		idx, accepted := wantIndex[i]
		if !accepted {
			if r.Err == nil {
				t.Errorf("item %d accepted at %d, want refused", i, r.Index)
			}
			continue
		}
		if r.Err != nil || r.Index != idx || !bytes.Equal(r.LeafHash, checkpoint.LeafHash(items[i].Envelope)) {
			t.Errorf("item %d = index %d, err %v; want index %d with the envelope's leaf hash", i, r.Index, r.Err, idx)
		}
	}

	var ie *client.ItemError
	if !errors.As(got[1].Err, &ie) {
		t.Fatalf("refusal %v is not an *ItemError", got[1].Err)
	}
	if want := []client.FieldViolation{{Field: "event.kind", Description: "required"}}; ie.Code != codes.InvalidArgument || !slices.Equal(ie.FieldViolations, want) {
		t.Errorf("refusal = %+v, want InvalidArgument with %v", ie, want)
	}
	if c := status.Code(got[3].Err); c != codes.InvalidArgument {
		t.Errorf("status.Code of the bad id's refusal = %v, want InvalidArgument", c)
	}
}

func TestSubmitStreamRejectsLies(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, srv *clienttest.Server, r *chemledgerv1.BulkCreateEntriesResponse)
		want   string
	}{
		{
			name: "wrong leaf hash",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.BulkCreateEntriesResponse) {
				r.Results[0].LeafHash[3] ^= 1
			},
			want: "is not the hash of the envelope sent",
		},
		{
			name: "checkpoint signed by another key",
			tamper: func(t *testing.T, _ *clienttest.Server, r *chemledgerv1.BulkCreateEntriesResponse) {
				r.Checkpoint.Note = otherKeySign(t, clienttest.Origin, cpOf(r.Checkpoint))
			},
			want: "no verifiable signatures",
		},
		{
			name: "checkpoint of another origin",
			tamper: func(_ *testing.T, srv *clienttest.Server, r *chemledgerv1.BulkCreateEntriesResponse) {
				c := cpOf(r.Checkpoint)
				c.Origin = "other.example/log"
				r.Checkpoint.Note = string(srv.Sign(c))
			},
			want: `origin "other.example/log"`,
		},
		{
			name: "answers out of order",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.BulkCreateEntriesResponse) {
				if len(r.Results) == 2 {
					r.Results[0], r.Results[1] = r.Results[1], r.Results[0]
				}
			},
			want: "answered position 1 where position 0 was due",
		},
		{
			name: "answer for another submission",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.BulkCreateEntriesResponse) {
				r.Results[0].SubmissionId = "US-CBP:X"
			},
			want: `the log answered for "US-CBP:X"`,
		},
		{
			name: "index outside the checkpoint",
			tamper: func(_ *testing.T, _ *clienttest.Server, r *chemledgerv1.BulkCreateEntriesResponse) {
				r.Results[0].Index = r.Checkpoint.Size
			},
			want: "outside the checkpoint's tree",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.SetTamper(func(m proto.Message) {
				if r, ok := m.(*chemledgerv1.BulkCreateEntriesResponse); ok {
					tt.tamper(t, f.srv, r)
				}
			})
			items := []client.Item{
				{SubmissionID: "US-CBP:EXP-1", Envelope: f.envelope(t, event("EXP-1"))},
				{SubmissionID: "US-CBP:EXP-2", Envelope: f.envelope(t, event("EXP-2"))},
				{SubmissionID: "US-CBP:EXP-3", Envelope: f.envelope(t, event("EXP-3"))},
			}
			err := f.c.SubmitStream(t.Context(), slices.Values(items), nil)
			if !errors.Is(err, client.ErrVerification) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SubmitStream error = %v, want ErrVerification containing %q", err, tt.want)
			}
		})
	}

	t.Run("missing answers", func(t *testing.T) {
		f := newFixture(t)
		f.srv.SetTamper(func(m proto.Message) {
			if r, ok := m.(*chemledgerv1.BulkCreateEntriesResponse); ok {
				r.Results = r.Results[:len(r.Results)-1]
			}
		})
		items := []client.Item{{SubmissionID: "US-CBP:EXP-1", Envelope: f.envelope(t, event("EXP-1"))}}
		err := f.c.SubmitStream(t.Context(), slices.Values(items), nil)
		if err == nil || !strings.Contains(err.Error(), "answered 0 of 1 items") {
			t.Fatalf("SubmitStream error = %v, want one about unanswered items", err)
		}
	})
}

func TestGetAndList(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		id := fmt.Sprintf("EXP-%d", i)
		if _, err := f.c.Submit(t.Context(), "US-CBP:"+id, event(id), f.signer); err != nil {
			t.Fatal(err)
		}
	}
	e, err := f.c.Get(t.Context(), 3)
	if err != nil || e.GetEvent().GetEventId() != "EXP-3" {
		t.Fatalf("Get(3) = %v, %v; want event EXP-3", e, err)
	}

	var ids []string
	for e, err := range f.c.List(t.Context(), `member = "US-CBP"`, 2) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		ids = append(ids, e.GetSubmissionId())
	}
	if want := []string{"US-CBP:EXP-0", "US-CBP:EXP-1", "US-CBP:EXP-2", "US-CBP:EXP-3", "US-CBP:EXP-4"}; !slices.Equal(ids, want) {
		t.Errorf("List over pages of 2 = %v, want %v", ids, want)
	}

	tests := []struct {
		name   string
		tamper func(e *chemledgerv1.Entry)
		want   string
	}{
		{"leaf hash not of the leaf", func(e *chemledgerv1.Entry) { e.LeafHash[0] ^= 1 }, "its leaf hashes to"},
		{"leaf changed", func(e *chemledgerv1.Entry) { e.Leaf = append(e.Leaf, ' ') }, "its leaf hashes to"},
		{"another entry", func(e *chemledgerv1.Entry) { e.Index = 1 }, "answered with entry 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.SetTamper(func(m proto.Message) {
				switch m := m.(type) {
				case *chemledgerv1.Entry:
					tt.tamper(m)
				case *chemledgerv1.ListEntriesResponse:
					for _, e := range m.Entries {
						if e.Index == 3 {
							tt.tamper(e)
						}
					}
				}
			})
			defer f.srv.SetTamper(nil)
			if _, err := f.c.Get(t.Context(), 3); !errors.Is(err, client.ErrVerification) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Get error = %v, want ErrVerification containing %q", err, tt.want)
			}
			var listErr error
			for _, err := range f.c.List(t.Context(), "", 2) {
				if err != nil {
					listErr = err
				}
			}
			if !errors.Is(listErr, client.ErrVerification) {
				t.Errorf("List error = %v, want ErrVerification", listErr)
			}
		})
	}
}

func TestVerifyInclusion(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(m proto.Message)
		want   string
	}{
		{name: "honest"},
		{
			name: "proof with a flipped bit",
			tamper: func(m proto.Message) {
				if p, ok := m.(*chemledgerv1.InclusionProof); ok {
					p.Hashes[1][0] ^= 0x80
				}
			},
			want: "inclusion of leaf 2 in tree of size 7",
		},
		{
			name: "proof at another size",
			tamper: func(m proto.Message) {
				if p, ok := m.(*chemledgerv1.InclusionProof); ok {
					p.TreeSize--
				}
			},
			want: "got one of entry 2 at size 6",
		},
		{
			name: "checkpoint signed by another key",
			tamper: func(m proto.Message) {
				if c, ok := m.(*chemledgerv1.Checkpoint); ok {
					c.Note = otherKeySign(t, clienttest.Origin, cpOf(c))
				}
			},
			want: "no verifiable signatures",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.prefill(7)
			f.srv.SetTamper(tt.tamper)
			cp, err := f.c.VerifyInclusion(t.Context(), 2)
			if tt.want == "" {
				if err != nil || cp.Size != 7 {
					t.Fatalf("VerifyInclusion = size %d, %v; want size 7", cp.Size, err)
				}
				return
			}
			if !errors.Is(err, client.ErrVerification) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyInclusion error = %v, want ErrVerification containing %q", err, tt.want)
			}
		})
	}
}

func TestVerifyConsistency(t *testing.T) {
	tests := []struct {
		name string
		// change runs after the checkpoint of 4 leaves is kept.
		change   func(srv *clienttest.Server)
		tamper   func(m proto.Message)
		wantSize uint64
		wantErr  bool // a *ConsistencyError
	}{
		{name: "unchanged", change: func(*clienttest.Server) {}, wantSize: 4},
		{name: "grown", change: func(s *clienttest.Server) { s.AppendLeaves([]byte("e"), []byte("f"), []byte("g")) }, wantSize: 7},
		{name: "rewritten and regrown", change: func(s *clienttest.Server) { s.Rewrite(2, []byte("x"), []byte("y"), []byte("z")) }, wantErr: true},
		{name: "rewritten at the same size", change: func(s *clienttest.Server) { s.Rewrite(3, []byte("x")) }, wantErr: true},
		{name: "truncated", change: func(s *clienttest.Server) { s.Rewrite(3) }, wantErr: true},
		{
			name:   "proof with a flipped bit",
			change: func(s *clienttest.Server) { s.AppendLeaves([]byte("e"), []byte("f"), []byte("g")) },
			tamper: func(m proto.Message) {
				if p, ok := m.(*chemledgerv1.ConsistencyProof); ok {
					p.Hashes[0][0] ^= 1
				}
			},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.AppendLeaves([]byte("a"), []byte("b"), []byte("c"), []byte("d"))
			_, kept, err := f.c.Checkpoint(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			tt.change(f.srv)
			f.srv.SetTamper(tt.tamper)
			latest, latestNote, err := f.c.VerifyConsistency(t.Context(), kept)
			if !tt.wantErr {
				if err != nil || latest.Size != tt.wantSize {
					t.Fatalf("VerifyConsistency = size %d, %v; want size %d", latest.Size, err, tt.wantSize)
				}
				if _, _, err := f.c.VerifyConsistency(t.Context(), latestNote); err != nil {
					t.Errorf("the returned note does not verify in turn: %v", err)
				}
				return
			}
			var ce *client.ConsistencyError
			if !errors.As(err, &ce) || !errors.Is(err, client.ErrVerification) {
				t.Fatalf("VerifyConsistency error = %v, want a *ConsistencyError", err)
			}
			_, now, err2 := f.c.Checkpoint(t.Context())
			if err2 != nil {
				t.Fatal(err2)
			}
			if !bytes.Equal(ce.Kept, kept) || !bytes.Equal(ce.Latest, now) {
				t.Errorf("evidence = kept %q, latest %q; want %q, %q", ce.Kept, ce.Latest, kept, now)
			}
			if msg := err.Error(); !strings.Contains(msg, string(kept)) || !strings.Contains(msg, string(now)) {
				t.Errorf("message %q does not hold both signed checkpoints", msg)
			}
		})
	}

	t.Run("kept checkpoint of another log", func(t *testing.T) {
		f := newFixture(t)
		f.srv.AppendLeaves([]byte("a"))
		kept := otherKeySign(t, clienttest.Origin, checkpoint.Checkpoint{Origin: clienttest.Origin, Size: 1, Root: checkpoint.LeafHash([]byte("a"))})
		_, _, err := f.c.VerifyConsistency(t.Context(), []byte(kept))
		var ce *client.ConsistencyError
		if err == nil || errors.As(err, &ce) {
			t.Fatalf("VerifyConsistency error = %v, want a plain error: a note the log did not sign is no evidence against it", err)
		}
	})
}

func TestTrustOnFirstUse(t *testing.T) {
	f := newFixture(t, client.WithDialOptions()) // no pinned key
	ctx := t.Context()
	got, err := f.c.LogVerifierKey(ctx)
	if err != nil || got != f.srv.VerifierKey {
		t.Fatalf("LogVerifierKey = %q, %v; want the log's %q", got, err, f.srv.VerifierKey)
	}
	if _, err := f.c.Submit(ctx, "US-CBP:EXP-1", event("EXP-1"), f.signer); err != nil {
		t.Fatalf("Submit with a key learnt on first use: %v", err)
	}

	t.Run("origin not the key's name", func(t *testing.T) {
		f := newFixture(t, client.WithDialOptions())
		f.srv.SetTamper(func(m proto.Message) {
			if l, ok := m.(*chemledgerv1.LogInfo); ok {
				l.Origin = "other.example/log"
			}
		})
		if _, _, err := f.c.Checkpoint(t.Context()); !errors.Is(err, client.ErrVerification) {
			t.Fatalf("Checkpoint error = %v, want ErrVerification", err)
		}
	})

	t.Run("pinned key of another log", func(t *testing.T) {
		_, vkey, err := note.GenerateKey(rand.Reader, clienttest.Origin)
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, client.WithLogVerifierKey(vkey))
		if _, _, err := f.c.Checkpoint(t.Context()); !errors.Is(err, client.ErrVerification) {
			t.Fatalf("Checkpoint error = %v, want ErrVerification", err)
		}
		if got, _ := f.c.LogVerifierKey(t.Context()); got != vkey {
			t.Errorf("LogVerifierKey = %q, want the pinned %q", got, vkey)
		}
	})
}

func TestDialRefusesBadKey(t *testing.T) {
	if _, err := client.Dial("127.0.0.1:1", client.WithLogVerifierKey("not a key")); err == nil {
		t.Fatal("Dial accepted a malformed verifier key")
	}
}

func TestItemErrorStatus(t *testing.T) {
	ie := &client.ItemError{Code: codes.InvalidArgument, Message: "bad", Reason: "INVALID_INPUT", FieldViolations: []client.FieldViolation{{"event.kind", "required"}}}
	back, ok := client.AsItemError(fmt.Errorf("wrapped: %w", status.Convert(ie).Err()))
	if !ok || back.Code != ie.Code || back.Message != ie.Message || back.Reason != ie.Reason || !slices.Equal(back.FieldViolations, ie.FieldViolations) {
		t.Errorf("round trip through a status = %+v, %v; want %+v", back, ok, ie)
	}
	if _, ok := client.AsItemError(fmt.Errorf("x: %w", client.ErrVerification)); ok {
		t.Error("AsItemError took a verification failure for a refusal")
	}
	if _, ok := client.AsItemError(context.Canceled); ok {
		t.Error("AsItemError took a plain error for a refusal")
	}
}

package server

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/internal/filter"
	"github.com/chemledger/chemledger/internal/webhook"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// WebhookConfig configures webhook delivery; with no Key the service sends
// none.
type WebhookConfig struct {
	// Key signs deliveries: a key of its own (chemledgerd keeps it in
	// webhook.key), published by GetLog.
	Key ed25519.PrivateKey
	// Client sends the POSTs: its TLS roots are what endpoints' certificates
	// must chain to (chemledgerd --webhook-ca).
	Client *http.Client
	// Dir keeps one cursor file per subscription.
	Dir string
	// MinBackoff is the first wait after a failed attempt (0: the
	// package's default).
	MinBackoff time.Duration
}

// listMethod is whose scope a subscription delivers with: what its member
// could list.
const listMethod = "/chemledger.v1.LedgerService/ListEntries"

// webhooks keeps the subscriptions the log's registry entries define, in
// log order, each delivered by the webhook package from its own cursor.
type webhooks struct {
	svc     *ledgerService
	members *members.Registry
	d       *webhook.Deliverer
	pub     ed25519.PublicKey
	log     *slog.Logger

	mu   sync.Mutex
	subs map[string]*hookSub // by member/id
}

type hookSub struct {
	member string
	w      *chemledgerv1.Webhook
	index  uint64
	cancel context.CancelFunc
	done   chan struct{}
}

func newWebhooks(svc *ledgerService, reg *members.Registry, cfg WebhookConfig, log *slog.Logger) *webhooks {
	return &webhooks{
		svc: svc, members: reg, log: log, pub: cfg.Key.Public().(ed25519.PublicKey), subs: map[string]*hookSub{},
		d: webhook.New(webhook.Config{Client: cfg.Client, Key: cfg.Key, Dir: cfg.Dir, MinBackoff: cfg.MinBackoff, Logger: log}),
	}
}

// subID names a subscription's cursor file: member ids and subscription
// ids hold no dot-free separator clash ("CC-AGENCY" has no dot).
func subID(member, id string) string { return member + "." + id }

// run follows the log's webhook registry entries from the start and keeps
// one delivery running per live subscription, until ctx ends.
func (h *webhooks) run(ctx context.Context) {
	defer h.stopAll()
	next := uint64(0)
	for {
		cp, _ := h.svc.ledger.Checkpoint()
		for next < cp.Size {
			entries, after, done, err := h.svc.ledger.List(ctx, storage.Filter{Kind: KindWebhook}, next, watchBatch)
			if err != nil {
				if ctx.Err() == nil {
					h.log.Error("webhook subscriptions: read the log", "from", next, "err", err)
				}
				return
			}
			for _, e := range entries {
				if e.Index >= cp.Size {
					break
				}
				if w := h.svc.entryProto(e).GetRegistry().GetWebhook(); w != nil {
					h.apply(ctx, e.Meta.Member, w, e.Index)
				}
			}
			if done || after >= cp.Size {
				next = cp.Size
			} else {
				next = after
			}
		}
		if _, err := h.svc.ledger.WaitBeyond(ctx, cp.Size); err != nil {
			return
		}
	}
}

// apply makes w, appended by member at index, the member's subscription
// of its id: it replaces the one before, or ends it.
func (h *webhooks) apply(ctx context.Context, member string, w *chemledgerv1.Webhook, index uint64) {
	key := member + "/" + w.GetId()
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.subs[key]; old != nil {
		old.cancel()
		<-old.done
		delete(h.subs, key)
	}
	if w.GetRemoved() {
		return
	}
	sctx, cancel := context.WithCancel(ctx)
	sub := &hookSub{member: member, w: w, index: index, cancel: cancel, done: make(chan struct{})}
	h.subs[key] = sub
	src := &hookSource{h: h, member: member, w: w}
	go func() {
		defer close(sub.done)
		if err := h.d.Run(sctx, webhook.Subscription{ID: subID(member, w.GetId()), URL: w.GetUrl()}, src); err != nil {
			h.log.Error("webhook subscription stopped", "member", member, "id", w.GetId(), "err", err)
		}
	}()
}

func (h *webhooks) stopAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, s := range h.subs {
		s.cancel()
		<-s.done
		delete(h.subs, k)
	}
}

// list is the subscriptions of member ("" for every member's).
func (h *webhooks) list(member string) []*chemledgerv1.WebhookInfo {
	cp, _ := h.svc.ledger.Checkpoint()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*chemledgerv1.WebhookInfo
	for _, s := range h.subs {
		if member != "" && s.member != member {
			continue
		}
		info := &chemledgerv1.WebhookInfo{Id: s.w.GetId(), Member: s.member, Url: s.w.GetUrl(), Filter: s.w.GetFilter(), Index: s.index}
		st, ok := h.d.Status(subID(s.member, s.w.GetId()))
		if !ok {
			st.Cursor, _ = h.d.Cursor(subID(s.member, s.w.GetId()))
		}
		info.Cursor, info.Lag, info.LastError = st.Cursor, cp.Size-min(cp.Size, st.Cursor), st.LastError
		if !st.LastErrorTime.IsZero() && st.LastError != "" {
			info.LastErrorTime = timestamppb.New(st.LastErrorTime)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Member+"/"+out[i].Id < out[j].Member+"/"+out[j].Id })
	return out
}

// hookSource reads one subscription's events from the log: the entries its
// filter matches that its member may list now, each as the member's list
// would show it.
type hookSource struct {
	h      *webhooks
	member string
	w      *chemledgerv1.Webhook
	// scan is how far this run has examined the log; the durable cursor is
	// the webhook package's.
	scan uint64
}

// delivery is the body of a webhook POST.
type delivery struct {
	Subscription   string          `json:"subscription"`
	Member         string          `json:"member"`
	Index          uint64          `json:"index"`
	CheckpointSize uint64          `json:"checkpointSize"`
	Entry          json.RawMessage `json:"entry"`
}

func (src *hookSource) scope() authz.Scope {
	if src.h.members == nil {
		return authz.Any
	}
	if st, _ := src.h.members.Status(src.member); st != members.Active {
		return authz.Deny
	}
	roles, _ := src.h.members.Roles(src.member)
	return authz.Decide(authz.Principal{Member: src.member, Roles: roles}, listMethod)
}

func (src *hookSource) Next(ctx context.Context, after uint64) ([]webhook.Event, error) {
	f, country, err := filter.ParseWatch(src.w.GetFilter(), kindFromFilter)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", src.w.GetFilter(), err)
	}
	l := src.h.svc.ledger
	src.scan = max(src.scan, after)
	for {
		size, _ := l.Checkpoint()
		scope := src.scope()
		if scope == authz.Own {
			if f.Member != "" && f.Member != src.member {
				return nil, fmt.Errorf("%s may list only its own entries", src.member)
			}
			f.Member = src.member
		}
		for scope != authz.Deny && src.scan < size.Size {
			entries, next, done, err := l.List(ctx, f, src.scan, 100)
			if err != nil {
				return nil, err
			}
			var out []webhook.Event
			for _, e := range entries {
				if e.Index >= size.Size {
					break
				}
				full := src.h.svc.entryProto(e)
				if country != "" && !addressedTo(full, country) {
					continue
				}
				entry := full
				if scope == authz.Hashes {
					entry = hashesOnly(e)
				}
				ej, err := protojson.Marshal(entry)
				if err != nil {
					return nil, err
				}
				body, err := json.Marshal(delivery{Subscription: src.w.GetId(), Member: src.member, Index: e.Index, CheckpointSize: size.Size, Entry: ej})
				if err != nil {
					return nil, err
				}
				out = append(out, webhook.Event{Cursor: e.Index + 1, Key: fmt.Sprintf("%s/%s/%d", src.member, src.w.GetId(), e.Index), Body: body})
			}
			if done || next >= size.Size {
				src.scan = size.Size
			} else {
				src.scan = next
			}
			if len(out) > 0 {
				return out, nil
			}
		}
		// Caught up (or not allowed now): wait for the log to grow, and
		// look at the member's standing again now and then.
		wait, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := l.WaitBeyond(wait, size.Size)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		_ = err
	}
}

func (s *ledgerService) ListWebhooks(ctx context.Context, req *chemledgerv1.ListWebhooksRequest) (*chemledgerv1.ListWebhooksResponse, error) {
	resp := &chemledgerv1.ListWebhooksResponse{}
	if s.hooks == nil {
		return resp, nil
	}
	a := accessOf(ctx)
	member := a.principal.Member
	if a.scope == authz.Any {
		member = ""
	}
	resp.Webhooks = s.hooks.list(member)
	return resp, nil
}

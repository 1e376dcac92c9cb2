package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/internal/filter"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Progress intervals of a watch, in milliseconds.
const (
	DefaultProgressIntervalMS = 5000
	MinProgressIntervalMS     = 100
	MaxProgressIntervalMS     = 60000
)

// watchBatch is how many entries a watch reads from the store at a time:
// enough to keep up with a burst, few enough that a slow reader holds
// little memory (a send blocks on the client's flow control before the
// next batch is read).
const watchBatch = 256

// watchPaths are the HTTP paths of the watch calls. Their responses are
// long-lived streams, so the listener's write timeout does not apply.
var watchPaths = map[string]bool{"/v1/entries:watch": true, "/v1/flags:watch": true}

func isWatchPath(p string) bool { return watchPaths[p] }

func progressInterval(ms uint32) (time.Duration, error) {
	switch {
	case ms == 0:
		ms = DefaultProgressIntervalMS
	case ms < MinProgressIntervalMS || ms > MaxProgressIntervalMS:
		return 0, badinput.New("progress_interval_ms", "must be 0 (default %d) or from %d to %d", DefaultProgressIntervalMS, MinProgressIntervalMS, MaxProgressIntervalMS)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// WatchEntries follows the published checkpoint (Ledger.WaitBeyond), so
// it only ever reads committed entries, and reads them with the list's own
// query and scope: a watch is a ListEntries that does not end. The cursor
// is the log index, so a resumed watch continues exactly where the last
// message it received left it.
func (s *ledgerService) WatchEntries(req *chemledgerv1.WatchEntriesRequest, stream chemledgerv1.LedgerService_WatchEntriesServer) error {
	ctx := stream.Context()
	f, country, err := filter.ParseWatch(req.GetFilter(), kindFromFilter)
	if err != nil {
		return toStatus(s.log, err)
	}
	a := accessOf(ctx)
	if a.scope == authz.Own {
		if f.Member != "" && f.Member != a.principal.Member {
			return denied("%s may watch only its own entries", a.principal)
		}
		f.Member = a.principal.Member
	}
	interval, err := progressInterval(req.GetProgressIntervalMs())
	if err != nil {
		return toStatus(s.log, err)
	}
	if a.open != nil {
		// One audit record per stream, durable before anything is sent.
		if err := a.open(req); err != nil {
			return err
		}
	}
	next := req.GetStartIndex()
	// A progress message goes out once the backlog is delivered, then
	// whenever the stream has sent nothing for an interval.
	progressed := false
	lastSent := time.Now()
	for {
		// Before every batch and every progress message: a member
		// suspended, a role withdrawn or a certificate revoked while the
		// stream is open ends it, as it would refuse a new list.
		if a.recheck != nil {
			if err := a.recheck(); err != nil {
				return err
			}
		}
		cp, _ := s.ledger.Checkpoint()
		size := cp.Size
		for next < size {
			if a.recheck != nil {
				if err := a.recheck(); err != nil {
					return err
				}
			}
			if s.recent.near(next, size) {
				// At the head of the log: from the shared cache, each
				// entry checked against the filter here and sent as it
				// was marshalled once for every watch.
				batch, err := s.recent.entries(ctx, next, size)
				if err != nil {
					return toStatus(s.log, err)
				}
				if len(batch) == 0 {
					return toStatus(s.log, fmt.Errorf("watch: entry %d below the published size %d could not be read", next, size))
				}
				var out wireBatch
				for _, ce := range batch {
					if !f.Matches(ce.e.Meta) || country != "" && !addressedTo(ce.full, country) {
						continue
					}
					wire := ce.fullWire
					if a.scope == authz.Hashes {
						wire = ce.hashesWire
					}
					if out.full() {
						if err := stream.SendMsg(out.message(size, out.next)); err != nil {
							return err
						}
						out, lastSent = wireBatch{}, time.Now()
					}
					out.add(wire, ce.e.Index+1)
				}
				if out.n > 0 {
					if err := stream.SendMsg(out.message(size, out.next)); err != nil {
						return err
					}
					lastSent = time.Now()
				}
				next = batch[len(batch)-1].e.Index + 1
				continue
			}
			// Behind: through the list's indexes, as ListEntries reads.
			entries, after, done, err := s.ledger.List(ctx, f, next, watchBatch)
			if err != nil {
				return toStatus(s.log, err)
			}
			resp := &chemledgerv1.WatchEntriesResponse{CheckpointSize: size}
			for _, e := range entries {
				if e.Index >= size {
					// Published after size was read: the next round
					// delivers it, against a checkpoint that covers it.
					break
				}
				full := s.entryProto(e)
				if country != "" && !addressedTo(full, country) {
					continue
				}
				entry := full
				if a.scope == authz.Hashes {
					entry = hashesOnly(e)
				}
				resp.Entries, resp.NextIndex = append(resp.Entries, entry), e.Index+1
			}
			if len(resp.Entries) > 0 {
				// At most watchBatch entries of at most 64 KiB each.
				if err := stream.Send(resp); err != nil {
					return err
				}
				lastSent = time.Now()
			}
			if done || after >= size {
				next = size
			} else {
				next = after
			}
		}
		if !progressed || time.Since(lastSent) >= interval {
			if err := stream.Send(&chemledgerv1.WatchEntriesResponse{CheckpointSize: size, NextIndex: max(next, size), Progress: true}); err != nil {
				return err
			}
			progressed, lastSent = true, time.Now()
		}
		wait, cancel := context.WithDeadline(ctx, lastSent.Add(interval))
		_, err := s.ledger.WaitBeyond(wait, size)
		cancel()
		if ctx.Err() != nil {
			return toStatus(s.log, ctx.Err())
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return toStatus(s.log, err)
		}
	}
}

// addressedTo reports whether e is a notification, reply or declaration
// that names country as the importer's, the consignee's or a transit
// country (a route leg outside the exporting country), or a reply to that
// country's notification: what the country's authority must hear of at
// once to object in time.
func addressedTo(e *chemledgerv1.Entry, country string) bool {
	ev := e.GetEvent()
	if ev == nil {
		return false
	}
	switch ev.GetKind() {
	case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		chemledgerv1.EventKind_EVENT_KIND_TRANSIT, chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
	case chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY:
		if ev.GetExporter().GetCountry() == country {
			return true
		}
	default:
		return false
	}
	if ev.GetImporter().GetCountry() == country || ev.GetConsignee().GetCountry() == country {
		return true
	}
	exporter := ev.GetExporter().GetCountry()
	for _, leg := range ev.GetRoute() {
		if c := locodeCountry(leg.GetLocode()); c == country && c != exporter {
			return true
		}
	}
	return false
}

// locodeCountry is the ISO country code a UN/LOCODE starts with.
func locodeCountry(locode string) string {
	if len(locode) < 2 {
		return ""
	}
	return strings.ToUpper(locode[:2])
}

// stillAllowed re-checks, during a long call, what authorise checked at
// its start: the certificate not revoked, the member active, and its roles
// (as the registry grants them now) still giving the scope the call was
// served with. A watch of a member suspended mid-stream ends there.
func (s *Server) stillAllowed(p authz.Principal, method string, scope authz.Scope) error {
	if p.Insecure || s.members == nil {
		return nil
	}
	if s.members.CertificateRevoked(p.Serial) {
		return unauthenticated(fmt.Sprintf("certificate %s of %s was revoked during the call", p.Serial, p.Member))
	}
	if st, _ := s.members.Status(p.Member); st != members.Active {
		return denied("%s is %s in the member registry", p.Member, st)
	}
	roles, _ := s.members.Roles(p.Member)
	now := authz.Principal{Member: p.Member, Serial: p.Serial}
	for _, r := range p.Roles {
		if slices.Contains(roles, r) {
			now.Roles = append(now.Roles, r)
		}
	}
	if authz.Decide(now, method) < scope {
		return denied("%s may no longer call %s", p, method)
	}
	return nil
}

// endedByRefusal reports whether a watch that was opened (and audited)
// ended because the service refused to go on, which is recorded too.
func endedByRefusal(err error) bool {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated:
		return true
	}
	return false
}

// clearWriteDeadline lets a watch's HTTP response outlive the listener's
// write timeout, which bounds every other answer.
func clearWriteDeadline(w http.ResponseWriter, r *http.Request) {
	if isWatchPath(r.URL.Path) {
		http.NewResponseController(w).SetWriteDeadline(time.Time{})
	}
}

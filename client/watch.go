package client

import (
	"context"
	"fmt"
	"iter"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// WatchOptions adjust Watch.
type WatchOptions struct {
	// Filter is the WatchEntries filter (the ListEntries grammar and
	// addressed_to).
	Filter string
	// Start is the first index to deliver: 0, or the NextIndex of the last
	// message a previous watch delivered.
	Start uint64
	// Progress is the interval of progress messages on an idle stream (0:
	// the log's default).
	Progress time.Duration
	// Reconnect, when set, reopens the stream from where it stopped after
	// the log became unreachable (a restart, a dropped connection), backing
	// off up to a few seconds between attempts, until ctx ends.
	Reconnect bool
}

// Watch follows the log: it yields each message, with the entries that
// match in log order, and progress messages (Progress set, no entries)
// when the stream is caught up. Every message is checked: indexes strictly
// increase from Start, each entry is below the checkpoint size its message
// names, and its leaf hashes to its leaf hash. With Reconnect it resumes after a disconnect from the last
// NextIndex, so the caller sees no gap and no duplicate. Iteration stops
// after the first error it yields.
func (c *Client) Watch(ctx context.Context, o WatchOptions) iter.Seq2[*chemledgerv1.WatchEntriesResponse, error] {
	return func(yield func(*chemledgerv1.WatchEntriesResponse, error) bool) {
		next := o.Start
		backoff := 100 * time.Millisecond
		for {
			err := c.watchOnce(ctx, o, &next, yield)
			if err == nil {
				return // the caller stopped
			}
			if !o.Reconnect || ctx.Err() != nil || !retryable(err) {
				yield(nil, err)
				return
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				yield(nil, fmt.Errorf("watch entries: %w", ctx.Err()))
				return
			}
			backoff = min(2*backoff, 3*time.Second)
		}
	}
}

// retryable are the failures a reconnect can get past: the log down or
// restarting, a connection dropped.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// watchOnce runs one stream from *next, moving *next as messages arrive.
// It returns nil when yield asked to stop, else why the stream ended.
func (c *Client) watchOnce(ctx context.Context, o WatchOptions, next *uint64, yield func(*chemledgerv1.WatchEntriesResponse, error) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.rpc.WatchEntries(ctx, &chemledgerv1.WatchEntriesRequest{
		Filter: o.Filter, StartIndex: *next, ProgressIntervalMs: uint32(o.Progress / time.Millisecond),
	})
	if err != nil {
		return fmt.Errorf("watch entries: %w", err)
	}
	for {
		m, err := st.Recv()
		if err != nil {
			return fmt.Errorf("watch entries from %d: %w", *next, err)
		}
		last := *next
		for _, e := range m.GetEntries() {
			switch {
			case e.GetIndex() < last:
				return fmt.Errorf("watch entries: %w: entry %d when the next was to be at least %d (a duplicate or out of order)", ErrVerification, e.GetIndex(), last)
			case e.GetIndex() >= m.GetCheckpointSize():
				return fmt.Errorf("watch entries: %w: entry %d beyond the checkpoint size %d it names", ErrVerification, e.GetIndex(), m.GetCheckpointSize())
			}
			if err := checkEntry(e); err != nil {
				return fmt.Errorf("watch entries: %w", err)
			}
			last = e.GetIndex() + 1
		}
		if m.GetNextIndex() < last {
			return fmt.Errorf("watch entries: %w: next index %d, below %d", ErrVerification, m.GetNextIndex(), last)
		}
		*next = m.GetNextIndex()
		if !yield(m, nil) {
			return nil
		}
	}
}

// WatchFlagsOptions adjust WatchFlags.
type WatchFlagsOptions struct {
	// Filter is a ListFlags filter.
	Filter string
	// Cursor is where to resume: 0, or the Cursor of the last message.
	Cursor uint64
	// Progress and Reconnect are as in WatchOptions.
	Progress  time.Duration
	Reconnect bool
}

// WatchFlags follows the detector's flags: it yields each message of flag
// changes in seq order, and progress messages when caught up, checking that
// seqs and cursors never go back. With Reconnect it resumes from the last
// cursor after a disconnect.
func (c *Client) WatchFlags(ctx context.Context, o WatchFlagsOptions) iter.Seq2[*chemledgerv1.WatchFlagsResponse, error] {
	return func(yield func(*chemledgerv1.WatchFlagsResponse, error) bool) {
		cursor := o.Cursor
		backoff := 100 * time.Millisecond
		for {
			err := c.watchFlagsOnce(ctx, o, &cursor, yield)
			if err == nil {
				return
			}
			if !o.Reconnect || ctx.Err() != nil || !retryable(err) {
				yield(nil, err)
				return
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				yield(nil, fmt.Errorf("watch flags: %w", ctx.Err()))
				return
			}
			backoff = min(2*backoff, 3*time.Second)
		}
	}
}

func (c *Client) watchFlagsOnce(ctx context.Context, o WatchFlagsOptions, cursor *uint64, yield func(*chemledgerv1.WatchFlagsResponse, error) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.analyst().WatchFlags(ctx, &chemledgerv1.WatchFlagsRequest{
		Filter: o.Filter, Cursor: *cursor, ProgressIntervalMs: uint32(o.Progress / time.Millisecond),
	})
	if err != nil {
		return fmt.Errorf("watch flags: %w", err)
	}
	for {
		m, err := st.Recv()
		if err != nil {
			return fmt.Errorf("watch flags after %d: %w", *cursor, err)
		}
		for _, ch := range m.GetChanges() {
			if ch.GetSeq() <= *cursor || ch.GetSeq() > m.GetCursor() {
				return fmt.Errorf("watch flags: %w: change at seq %d outside (%d, %d]", ErrVerification, ch.GetSeq(), *cursor, m.GetCursor())
			}
		}
		if m.GetCursor() < *cursor {
			return fmt.Errorf("watch flags: %w: cursor back to %d from %d", ErrVerification, m.GetCursor(), *cursor)
		}
		*cursor = m.GetCursor()
		if !yield(m, nil) {
			return nil
		}
	}
}

// Webhooks lists the caller's member's webhook subscriptions with how far
// each is delivered.
func (c *Client) Webhooks(ctx context.Context) (*chemledgerv1.ListWebhooksResponse, error) {
	resp, err := c.rpc.ListWebhooks(ctx, &chemledgerv1.ListWebhooksRequest{})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return resp, nil
}

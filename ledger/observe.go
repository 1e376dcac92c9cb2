package ledger

import "time"

// CommitStats is what one commit of the sequencer did and how long it took.
type CommitStats struct {
	// Batch is the number of submissions the commit decided (new entries,
	// earlier ones again, refusals).
	Batch int
	// Added is the number of new entries it wrote.
	Added int
	// Took is the whole commit: deciding, writing, signing the checkpoint
	// and making it durable.
	Took time.Duration
	// Sync is the part of Took bbolt spent writing pages to the file and
	// syncing them to disk.
	Sync time.Duration
	// Err is why the commit failed, or nil.
	Err error
}

// Observer is told of every commit. It lets the server keep metrics
// without the ledger knowing how they are kept; it runs on the
// sequencer's goroutine, so it must return quickly.
type Observer interface {
	Committed(CommitStats)
}

// Observe makes o the ledger's observer (nil: none). The ledger is opened
// before the server that keeps its metrics, so the observer is set on the
// open ledger rather than in Config.
func (l *Ledger) Observe(o Observer) {
	if o == nil {
		l.observer.Store(nil)
		return
	}
	l.observer.Store(&o)
}

func (l *Ledger) observed(c CommitStats) {
	if p := l.observer.Load(); p != nil {
		(*p).Committed(c)
	}
}

// QueueDepth is the number of submissions waiting for the sequencer now,
// over every member.
func (l *Ledger) QueueDepth() int { return l.queue.depth() }

// QueueCapacity is the most submissions one member may have waiting for
// the sequencer (Config.QueueSize); a member at it blocks in Submit.
func (l *Ledger) QueueCapacity() int { return l.queue.perMember }

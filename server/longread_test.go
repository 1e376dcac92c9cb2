package server_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// A long analyst read — an export of the whole log through ListEntries and
// of every flag through ListFlags, page by page with a pause between pages
// — does not pin the database or hold off writers: each page is its own
// short read transaction, none is open while the reader pauses, and
// submissions are acknowledged between the reader's pages.
func TestLongAnalystReadDoesNotBlockWriters(t *testing.T) {
	const (
		preload     = 2000 // entries in the log before the export starts
		writers     = 4
		perWriter   = 250 // 1,000 submissions during the export
		entriesPage = 25
		flagsPage   = 40
		pause       = 5 * time.Millisecond
	)
	in := start(t, "")
	conn := dial(t, in)
	c := chemledgerv1.NewLedgerServiceClient(conn)
	a := chemledgerv1.NewAnalystServiceClient(conn)

	// US import declarations for consignees with no licence: each one
	// raises a flag, so the flag export is long too.
	imp := usImport(t, in)
	var items []bulkItem
	for i := range preload {
		items = append(items, importNamed(t, in, imp, fmt.Sprintf("UCR-PRELOAD-%05d", i)))
	}
	checkBulk(t, items, runBulk(t, c, items), 0)
	waitDerived(t, in)
	// Signed before the export starts, so the writers only submit.
	var writes [writers][]bulkItem
	for w := range writers {
		for i := range perWriter {
			writes[w] = append(writes[w], importNamed(t, in, imp, fmt.Sprintf("UCR-W%d-%04d", w, i)))
		}
	}

	var (
		acked       atomic.Int64 // submissions acknowledged so far
		reading     atomic.Bool  // the export is running
		writersBusy atomic.Bool
		duringRead  atomic.Int64 // acknowledged while the export was running
		slowest     atomic.Int64 // the slowest submission, in nanoseconds
		lastAck     atomic.Int64 // when the latest acknowledgement came, unix nanoseconds
		silence     atomic.Int64 // the longest wait for the next acknowledgement, in nanoseconds
	)
	raise := func(v *atomic.Int64, x int64) {
		for m := v.Load(); x > m && !v.CompareAndSwap(m, x); m = v.Load() {
		}
	}
	// page is one page of the export and the acknowledgements around it.
	type page struct {
		what                   string
		acksAtStart, acksAtEnd int64
	}
	// pass is one export of the log and the flags.
	type pass struct {
		entries []uint64
		flags   map[string]bool
	}
	var (
		pages       []page
		passes      []pass
		openBetween []string
		readTook    time.Duration
	)

	readerDone := make(chan error, 1)
	firstPage := make(chan struct{})
	writersBusy.Store(true)
	reading.Store(true)
	go func() {
		readStart := time.Now()
		finish := func(err error) {
			readTook = time.Since(readStart)
			reading.Store(false)
			readerDone <- err
		}
		// between is the reader's pause. It holds no read transaction, so
		// the count of open ones drops to zero (other readers, such as the
		// detector following the log, hold theirs for a moment only).
		between := func(what string) {
			deadline := time.Now().Add(2 * time.Second)
			for in.Store.OpenReadTxs() != 0 {
				if time.Now().After(deadline) {
					openBetween = append(openBetween, fmt.Sprintf("after %s: %d read transactions open for 2 s", what, in.Store.OpenReadTxs()))
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(pause)
		}
		// export reads one listing page by page: read reads the page after
		// tok and returns the next token.
		export := func(what string, read func(tok string) (next string, err error)) error {
			tok := ""
			for n := 0; ; n++ {
				p := page{what: fmt.Sprintf("pass %d %s page %d", len(passes), what, n), acksAtStart: acked.Load()}
				next, err := read(tok)
				if err != nil {
					return fmt.Errorf("%s: %w", p.what, err)
				}
				p.acksAtEnd = acked.Load()
				pages = append(pages, p)
				if len(pages) == 1 {
					close(firstPage)
				}
				if tok = next; tok == "" {
					return nil
				}
				between(p.what)
			}
		}
		// The export runs again until the writers are done, so that every
		// submission is made while an export is in progress.
		for len(passes) == 0 || writersBusy.Load() {
			ps := pass{flags: map[string]bool{}}
			err := export("entries", func(tok string) (string, error) {
				resp, err := c.ListEntries(t.Context(), &chemledgerv1.ListEntriesRequest{PageSize: entriesPage, PageToken: tok})
				for _, e := range resp.GetEntries() {
					ps.entries = append(ps.entries, e.GetIndex())
				}
				return resp.GetNextPageToken(), err
			})
			if err == nil {
				err = export("flags", func(tok string) (string, error) {
					resp, err := a.ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{PageSize: flagsPage, PageToken: tok})
					for _, f := range resp.GetFlags() {
						if ps.flags[f.GetId()] {
							return "", fmt.Errorf("flag %s listed twice", f.GetId())
						}
						ps.flags[f.GetId()] = true
					}
					return resp.GetNextPageToken(), err
				})
			}
			if err != nil {
				finish(err)
				return
			}
			passes = append(passes, ps)
		}
		finish(nil)
	}()

	<-firstPage
	writeStart := time.Now()
	lastAck.Store(writeStart.UnixNano())
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for _, it := range writes[w] {
				start := time.Now()
				_, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: it.id, Envelope: it.env})
				if err != nil {
					errs <- fmt.Errorf("CreateEntry(%s): %w", it.id, err)
					continue
				}
				now := time.Now().UnixNano()
				raise(&slowest, now-start.UnixNano())
				raise(&silence, now-lastAck.Swap(now))
				acked.Add(1)
				if reading.Load() {
					duringRead.Add(1)
				}
			}
		})
	}
	wg.Wait()
	writeTook := time.Since(writeStart)
	writersBusy.Store(false)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}

	// Every write went through while the export was running, acknowledged
	// between one page and the next, with no long silence. (Group commit
	// answers the writers in bursts, so not every pause sees one; a reader
	// that held the writers off would leave most of them empty.)
	const total = writers * perWriter
	if got, want := logSize(t, c), uint64(preload+total); got != want {
		t.Errorf("log size %d after the writes, want %d", got, want)
	}
	busy, gaps := 0, 0
	for i := 1; i < len(pages) && pages[i-1].acksAtEnd < total; i++ {
		busy++
		if pages[i].acksAtStart > pages[i-1].acksAtEnd {
			gaps++
		}
	}
	t.Logf("export: %d passes, %d pages in %v (first pass: %d entries, %d flags); writers: %d submissions in %v, %d acknowledged during the export, in %d of the %d pauses they were busy for; slowest submission %v, longest wait for an acknowledgement %v",
		len(passes), len(pages), readTook, len(passes[0].entries), len(passes[0].flags), total, writeTook, duringRead.Load(), gaps, busy,
		time.Duration(slowest.Load()), time.Duration(silence.Load()))
	if duringRead.Load() != total {
		t.Errorf("%d of %d submissions acknowledged while the export was running", duringRead.Load(), total)
	}
	if gaps == 0 || gaps < busy/10 {
		t.Errorf("submissions acknowledged in %d of the %d pauses between pages the writers were busy for: the writers waited for the reader", gaps, busy)
	}
	if w := time.Duration(slowest.Load()); w > 5*time.Second {
		t.Errorf("a submission took %v during the export", w)
	}
	if w := time.Duration(silence.Load()); w > 5*time.Second {
		t.Errorf("the writers went %v without an acknowledgement during the export", w)
	}
	for _, s := range openBetween {
		t.Errorf("between pages, %s", s)
	}

	// Each pass is a consistent prefix of the log, in order, each entry
	// once, at least as long as the log was when the export began.
	for k, ps := range passes {
		if len(ps.entries) < preload {
			t.Errorf("pass %d exported %d entries, fewer than the %d in the log when the export began", k, len(ps.entries), preload)
		}
		for i, idx := range ps.entries {
			if idx != uint64(i) {
				t.Fatalf("pass %d: exported entry %d has index %d: the pages skipped or repeated entries", k, i, idx)
			}
		}
		if len(ps.flags) < preload {
			t.Errorf("pass %d exported %d flags, fewer than one per preloaded declaration (%d)", k, len(ps.flags), preload)
		}
	}
	if n := in.Store.OpenReadTxs(); n != 0 {
		t.Errorf("%d read transactions open after the export", n)
	}
}

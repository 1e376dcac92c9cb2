// Package baseline measures bare bbolt doing what the ledger's write path
// does, minus the ledger: concurrent writers hand values to one group-commit
// writer that puts each batch in one durable transaction and then answers
// every writer. It is the yardstick ledger throughput is reported against.
// It lives under storage because storage is the only place bbolt is used.
//
// It must not be imported by the service.
package baseline

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Result is one measurement.
type Result struct {
	Writes    int
	Elapsed   time.Duration
	Latencies []time.Duration
}

// Run writes values of valueSize bytes from clients concurrent writers for
// duration, committing at most maxBatch per transaction, into a new
// database in dir.
func Run(ctx context.Context, dir string, clients, valueSize, maxBatch int, duration time.Duration) (Result, error) {
	db, err := bolt.Open(filepath.Join(dir, "baseline.db"), 0o600, &bolt.Options{
		Timeout: time.Second, InitialMmapSize: 256 << 20, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	bucket := []byte("entries")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return Result{}, err
	}

	type req struct {
		value []byte
		done  chan error
	}
	queue := make(chan req, 8192)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var seq uint64
		batch := make([]req, 0, maxBatch)
		for r := range queue {
			batch = append(batch[:0], r)
		fill:
			for len(batch) < maxBatch {
				select {
				case r, ok := <-queue:
					if !ok {
						break fill
					}
					batch = append(batch, r)
				default:
					break fill
				}
			}
			err := db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucket)
				b.FillPercent = 1.0
				for _, r := range batch {
					seq++
					if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), r.value); err != nil {
						return err
					}
				}
				return nil
			})
			for _, r := range batch {
				r.done <- err
			}
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var (
		mu     sync.Mutex
		res    Result
		wg     sync.WaitGroup
		errOut error
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			value := make([]byte, valueSize)
			value[0] = byte(c)
			done := make(chan error, 1)
			var lat []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				queue <- req{value: value, done: done}
				if err := <-done; err != nil {
					mu.Lock()
					errOut = err
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			res.Writes += len(lat)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	close(queue)
	<-writerDone
	if errOut != nil {
		return res, fmt.Errorf("baseline write: %w", errOut)
	}
	return res, nil
}

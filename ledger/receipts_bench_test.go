package ledger

import (
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"

	"github.com/chemledger/chemledger/storage"
)

// BenchmarkBatchProofs builds the inclusion proofs of one batch of 256
// entries at the end of a 20,000-entry log, as respond does: "per-node"
// opens the nodes bucket for every node read (as before the node cache),
// "batch-cache" reads through one handle and shares nodes across the batch.
func BenchmarkBatchProofs(b *testing.B) {
	l, st := openTestLedger(b, b.TempDir())
	const n, batch = 20000, 256
	var chs []<-chan Outcome
	for i := range n {
		ch, err := l.Enqueue(b.Context(), sub(i), false)
		if err != nil {
			b.Fatal(err)
		}
		chs = append(chs, ch)
	}
	for _, ch := range chs {
		if o := <-ch; o.Err != nil {
			b.Fatal(o.Err)
		}
	}
	size := uint64(n)
	perNode := func(tx *storage.ReadTx, index uint64) error {
		nodes, err := proof.Inclusion(index, size)
		if err != nil {
			return err
		}
		hashes := make([][]byte, len(nodes.IDs))
		for i, id := range nodes.IDs {
			h, err := tx.Node(id.Level, id.Index)
			if err != nil {
				return err
			}
			hashes[i] = append([]byte(nil), h...)
		}
		_, err = nodes.Rehash(hashes, hasher.HashChildren)
		return err
	}
	for _, c := range []struct {
		name  string
		proof func(tx *storage.ReadTx) func(index uint64) error
	}{
		{"per-node", func(tx *storage.ReadTx) func(uint64) error {
			return func(i uint64) error { return perNode(tx, i) }
		}},
		{"batch-cache", func(tx *storage.ReadTx) func(uint64) error {
			nc := newNodeCache(tx)
			return func(i uint64) error { _, err := inclusionProof(nc, i, size); return err }
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				err := st.View(func(tx *storage.ReadTx) error {
					p := c.proof(tx)
					for i := size - batch; i < size; i++ {
						if err := p(i); err != nil {
							return fmt.Errorf("proof of %d: %w", i, err)
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/batch, "µs/proof")
		})
	}
}

package ledger

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/chemledger/chemledger/storage"
)

// The C2SP tlog-tiles shape: a tile is TileHeight tree levels high and
// TileWidth hashes wide, and an entry bundle holds TileWidth entries.
const (
	TileHeight = 8
	TileWidth  = 1 << TileHeight
)

// MaxTileLevel is the highest tile level a 64-bit tree can have.
const MaxTileLevel = 63 / TileHeight

// tileWidth checks a requested width (0 for a full tile) against the
// number of hashes or entries available at that tile, and returns the
// width to serve.
func tileWidth(what string, index uint64, width int, available uint64) (int, error) {
	if width < 0 || width >= TileWidth {
		return 0, fmt.Errorf("%w: %s width %d: a partial tile is 1 to %d wide", ErrTreeSize, what, width, TileWidth-1)
	}
	start := index * TileWidth
	if index > available/TileWidth || start >= available {
		return 0, fmt.Errorf("%s %d: %w (the tree has %d at that level)", what, index, ErrNotFound, available)
	}
	have := min(available-start, TileWidth)
	if width == 0 {
		if have < TileWidth {
			return 0, fmt.Errorf("full %s %d: %w yet (%d of %d)", what, index, ErrNotFound, have, TileWidth)
		}
		return TileWidth, nil
	}
	if uint64(width) > have {
		return 0, fmt.Errorf("%s %d of width %d: %w (%d available)", what, index, width, ErrNotFound, have)
	}
	return width, nil
}

// HashTile returns the hash tile at level and index: the hashes of tree
// level TileHeight × level, width of them (0: a full tile) from index ×
// TileWidth on, within the latest checkpoint's tree. They are read from the
// node hashes the ledger stores for its proofs; there is no second copy of
// the tree. A partial tile's hashes are a prefix of the full tile's, so any
// width the tree covers is served.
func (l *Ledger) HashTile(ctx context.Context, level uint, index uint64, width int) ([]byte, error) {
	if level > MaxTileLevel {
		return nil, fmt.Errorf("%w: tile level %d: at most %d", ErrTreeSize, level, MaxTileLevel)
	}
	latest, _ := l.Checkpoint()
	height := level * TileHeight
	w, err := tileWidth("tile", index, width, latest.Size>>height)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, w*32)
	err = l.store.View(func(tx *storage.ReadTx) error {
		nodes := tx.NodeReader() // one bucket handle for the tile's 256 reads
		for i := range uint64(w) {
			h, err := nodes.Node(height, index*TileWidth+i)
			if err != nil {
				return fmt.Errorf("tile %d/%d: %w", level, index, err)
			}
			out = append(out, h...)
		}
		return nil
	})
	return out, err
}

// EntryBundle returns width entries (0: a full bundle) from index ×
// TileWidth on, each as a big-endian uint16 length and the entry's exact
// bytes, within the latest checkpoint's tree.
func (l *Ledger) EntryBundle(ctx context.Context, index uint64, width int) ([]byte, error) {
	latest, _ := l.Checkpoint()
	w, err := tileWidth("entry bundle", index, width, latest.Size)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = l.store.View(func(tx *storage.ReadTx) error {
		for i := range uint64(w) {
			leaf, err := tx.Leaf(index*TileWidth + i)
			if err != nil {
				return fmt.Errorf("entry bundle %d: %w", index, err)
			}
			if len(leaf) > 0xffff {
				return fmt.Errorf("entry %d is %d bytes, more than an entry bundle can carry", index*TileWidth+i, len(leaf))
			}
			out = binary.BigEndian.AppendUint16(out, uint16(len(leaf)))
			out = append(out, leaf...)
		}
		return nil
	})
	return out, err
}

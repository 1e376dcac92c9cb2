package server

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// recentEntries is how many of the newest entries the watch cache holds:
// watches at the head of the log (every open watch, once caught up) read
// them from here, so an entry is read from bbolt and decoded once however
// many watches deliver it. A watch further behind reads through the list's
// indexes instead.
const recentEntries = 8192

// cachedEntry is an entry as watches deliver it: decoded once, both ways a
// scope shows it. The protos are shared by every watch and never changed
// (marshalling only reads them).
type cachedEntry struct {
	e      *ledger.Entry
	full   *chemledgerv1.Entry
	hashes *chemledgerv1.Entry
	// fullWire and hashesWire are full and hashes marshalled.
	fullWire, hashesWire []byte
}

// entryCache is a ring of the newest entries by index.
type entryCache struct {
	svc *ledgerService
	// fill serialises reads of missing entries, so that watches woken by
	// the same commit read and decode it once between them.
	fill sync.Mutex
	mu   sync.RWMutex
	ring [recentEntries]*cachedEntry
}

func newEntryCache(svc *ledgerService) *entryCache { return &entryCache{svc: svc} }

// near reports whether a watch at next, with the log at size, is close
// enough to the head to read from the cache.
func (c *entryCache) near(next, size uint64) bool { return size-next <= recentEntries/2 }

func (c *entryCache) get(i uint64) *cachedEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if ce := c.ring[i%recentEntries]; ce != nil && ce.e.Index == i {
		return ce
	}
	return nil
}

// entries returns the entries from index from up to (not including) to,
// at most watchBatch of them, reading and decoding those the cache lacks.
// Every index below to must be published.
func (c *entryCache) entries(ctx context.Context, from, to uint64) ([]*cachedEntry, error) {
	to = min(to, from+watchBatch)
	out := make([]*cachedEntry, 0, to-from)
	for i := from; i < to; i++ {
		ce := c.get(i)
		if ce == nil {
			break
		}
		out = append(out, ce)
	}
	if uint64(len(out)) == to-from {
		return out, nil
	}
	c.fill.Lock()
	defer c.fill.Unlock()
	for i := from + uint64(len(out)); i < to; i++ {
		if ce := c.get(i); ce != nil {
			out = append(out, ce)
			continue
		}
		got, _, _, err := c.svc.ledger.List(ctx, storage.Filter{}, i, int(to-i))
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		for _, e := range got {
			if e.Index >= to {
				break
			}
			ce := &cachedEntry{e: e, full: c.svc.entryProto(e), hashes: hashesOnly(e)}
			var err error
			if ce.fullWire, err = proto.Marshal(ce.full); err == nil {
				ce.hashesWire, err = proto.Marshal(ce.hashes)
			}
			if err != nil {
				c.mu.Unlock()
				return nil, fmt.Errorf("marshal entry %d: %w", e.Index, err)
			}
			c.ring[e.Index%recentEntries] = ce
			out = append(out, ce)
		}
		c.mu.Unlock()
		break
	}
	return out, nil
}

// encodedMessage is a message already in protobuf wire form, in parts that
// are sent one after the other: protoCodec sends it as it is. A watch's
// entry is marshalled once, when it is cached, and each watch only frames
// it with its own checkpoint size and next index.
type encodedMessage [][]byte

// Marshal is grpc-go's, except for an encodedMessage.
func (c protoCodec) Marshal(v any) (mem.BufferSlice, error) {
	if parts, ok := v.(encodedMessage); ok {
		out := make(mem.BufferSlice, len(parts))
		for i, p := range parts {
			out[i] = mem.SliceBuffer(p)
		}
		return out, nil
	}
	return c.CodecV2.Marshal(v)
}

// Field numbers of chemledger.v1.WatchEntriesResponse; TestEncodedWatchEntries
// checks them against the generated code.
const (
	watchFieldEntries        = 1
	watchFieldCheckpointSize = 2
	watchFieldNextIndex      = 3
)

// maxWireBatch bounds the bytes of entries in one watch message, well
// under the 4 MiB a gRPC client receives by default.
const maxWireBatch = 1 << 20

// wireBatch gathers entries already in wire form into one
// WatchEntriesResponse; the entries' bytes are shared, not copied.
type wireBatch struct {
	parts [][]byte
	n     int
	bytes int
	// next is one past the index of the last entry added.
	next uint64
}

func (b *wireBatch) full() bool { return b.n >= watchBatch || b.bytes >= maxWireBatch }

func (b *wireBatch) add(entry []byte, next uint64) {
	head := protowire.AppendTag(make([]byte, 0, 8), watchFieldEntries, protowire.BytesType)
	b.parts = append(b.parts, protowire.AppendVarint(head, uint64(len(entry))), entry)
	b.n, b.bytes, b.next = b.n+1, b.bytes+len(entry), next
}

// message is the batch as a WatchEntriesResponse at checkpoint size.
func (b *wireBatch) message(size, next uint64) encodedMessage {
	tail := protowire.AppendTag(make([]byte, 0, 24), watchFieldCheckpointSize, protowire.VarintType)
	tail = protowire.AppendVarint(tail, size)
	tail = protowire.AppendTag(tail, watchFieldNextIndex, protowire.VarintType)
	tail = protowire.AppendVarint(tail, next)
	return append(b.parts[:len(b.parts):len(b.parts)], tail)
}

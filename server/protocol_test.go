package server_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/chemledger/chemledger/server/servertest"
)

// Regression tests of the protocol-level findings of issue 10: what the
// listeners do with input no well-behaved client library sends.

// liveHeap is the live heap after a collection: what the process holds on
// to, as against what it allocated and dropped.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestContinuationFloodCut (issue 10, finding 5): a HEADERS frame without
// END_HEADERS followed by megabytes of CONTINUATION frames, from a client
// with a valid certificate, made the gRPC server keep every header field
// up to grpc-go's default list size of 16 MiB, per stream, and a few
// streams on a few connections cost hundreds of megabytes. The server bounds header
// lists at 64 KiB as the HTTP listener does, so the connection is cut long
// before the flood ends and the heap does not keep it.
func TestContinuationFloodCut(t *testing.T) {
	s := startSecured(t, "", servertest.Options{NoDetection: true})
	cfg := clientTLS(t, s.in, "US-CBP", "analyst")
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", s.in.GRPCAddr, cfg)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", s.in.GRPCAddr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatalf("client preface: %v", err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatalf("SETTINGS: %v", err)
	}
	// The server's frames are read until it closes the connection;
	// closed says when, and with what.
	closed := make(chan error, 1)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				closed <- err
				return
			}
			// The server's SETTINGS go unacknowledged: the framer is
			// written from one goroutine only, and grpc-go does not
			// wait for the ack.
			if g, ok := f.(*http2.GoAwayFrame); ok {
				closed <- errors.New("GOAWAY " + g.ErrCode.String())
				return
			}
		}
	}()

	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "https"}, {":authority", "localhost"},
		{":path", "/chemledger.v1.LedgerService/GetCheckpoint"},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	start := bytes.Clone(hdr.Bytes())
	// Each CONTINUATION frame is one never-indexed field of nearly a
	// whole frame (16 KiB by default), so everything sent is something a
	// server without a bound keeps.
	hdr.Reset()
	enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: string(bytes.Repeat([]byte{'a'}, 16<<10-64)), Sensitive: true})
	field := bytes.Clone(hdr.Bytes())
	// Under grpc-go's default bound (16 MiB, after which it does cut the
	// connection), so that an unbounded server still holds all of it
	// when the heap is measured.
	const flood = 8 << 20
	frames := flood / len(field)

	before := liveHeap()
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	sent, werr := 0, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: start})
	for ; werr == nil && sent < frames; sent++ {
		werr = fr.WriteContinuation(1, false, field)
	}
	var closedBy error
	select {
	case closedBy = <-closed:
	case <-time.After(2 * time.Second):
	}
	grew := int64(liveHeap()) - int64(before)
	t.Logf("CONTINUATION flood: %d of %d frames (%d KiB) written, write error %v; server closed the connection: %v; live heap grew by %d KiB",
		sent, frames, sent*len(field)>>10, werr, closedBy, grew>>10)
	if closedBy == nil {
		t.Errorf("the server kept the connection open through %d KiB of CONTINUATION frames; want it closed", sent*len(field)>>10)
	}
	if sent == frames && werr == nil {
		t.Errorf("all %d KiB of the flood were accepted; want the connection cut long before", flood>>10)
	}
	// A quarter of the flood is generous: a bounded server keeps at most
	// one 64 KiB header list (and with the connection closed, not even
	// that).
	if grew > flood/4 {
		t.Errorf("the live heap grew by %d KiB during a %d KiB CONTINUATION flood; want less than %d KiB", grew>>10, flood>>10, flood/4>>10)
	}
}

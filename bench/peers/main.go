// Command peers measures chemledger's write path side by side with the
// fastest transparency log we know of, Tessera on POSIX, and with bare bbolt
// group commit, in one invocation: every peer at every client count, in
// interleaved rounds, so that a shared machine's noise falls on all alike.
//
// It is its own module so that the product's go.mod never carries Tessera.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage/baseline"
)

// peer runs clients closed-loop clients for d against a fresh store in dir
// and returns how many appends were acknowledged durable.
type peer struct {
	name string
	run  func(ctx context.Context, dir string, clients int, d time.Duration) (int, time.Duration, error)
}

func main() {
	var (
		duration = flag.Duration("duration", 2*time.Second, "length of one measurement")
		rounds   = flag.Int("rounds", 3, "interleaved rounds (each runs every peer at every client count)")
		clientsF = flag.String("clients", "1,16,64,256", "closed-loop client counts")
		peersF   = flag.String("peers", "tessera,bbolt,ledger,handler", "peers to run")
		pool     = flag.Int("envelopes", 60000, "pre-signed envelopes (a run stops early when they run out)")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	)
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peers:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), *duration, *rounds, *clientsF, *peersF, *pool); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, d time.Duration, rounds int, clientsF, peersF string, pool int) error {
	var counts []int
	for _, s := range strings.Split(clientsF, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("clients %q: %w", s, err)
		}
		counts = append(counts, n)
	}
	w, err := newWorkload(pool)
	if err != nil {
		return err
	}
	fmt.Printf("entries: %d-byte signed envelopes (%d pre-signed)\n", len(w.envs[0]), len(w.envs))
	all := map[string]peer{
		"tessera": {"tessera-posix", w.tessera},
		"bbolt":   {"bbolt-group-commit", w.bbolt},
		"ledger":  {"chemledger-ledger", w.ledger},
		"handler": {"chemledger-handler", w.handler},
	}
	var peers []peer
	for _, name := range strings.Split(peersF, ",") {
		p, ok := all[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("unknown peer %q", name)
		}
		peers = append(peers, p)
	}
	// rates[peer][clients] holds one figure per round.
	rates := map[string]map[int][]float64{}
	for _, p := range peers {
		rates[p.name] = map[int][]float64{}
	}
	for r := range rounds {
		for _, c := range counts {
			// Rotate the order each round so no peer always goes first.
			for i := range peers {
				p := peers[(i+r)%len(peers)]
				dir, err := os.MkdirTemp("", "peers-")
				if err != nil {
					return err
				}
				n, el, err := p.run(ctx, dir, c, d)
				os.RemoveAll(dir)
				if err != nil {
					return fmt.Errorf("%s, %d clients: %w", p.name, c, err)
				}
				rate := float64(n) / el.Seconds()
				rates[p.name][c] = append(rates[p.name][c], rate)
				fmt.Printf("round %d  %-20s %4d clients  %8.0f appends/s\n", r+1, p.name, c, rate)
			}
		}
	}
	fmt.Println()
	fmt.Printf("%-20s", "appends/s")
	for _, c := range counts {
		fmt.Printf(" | %4d cl: median (min..max)", c)
	}
	fmt.Println()
	for _, p := range peers {
		fmt.Printf("%-20s", p.name)
		for _, c := range counts {
			v := rates[p.name][c]
			fmt.Printf(" | %7.0f (%6.0f..%6.0f)", median(v), slices.Min(v), slices.Max(v))
		}
		fmt.Println()
	}
	// Paired ratios: each round's figure over the first peer's figure of the
	// same round and client count (they ran back to back).
	ref := peers[0].name
	fmt.Printf("\npaired ratio to %s, median (min..max) over rounds\n", ref)
	for _, p := range peers[1:] {
		fmt.Printf("%-20s", p.name)
		for _, c := range counts {
			var q []float64
			for i, v := range rates[p.name][c] {
				q = append(q, v/rates[ref][c][i])
			}
			fmt.Printf(" | %4d: %5.2f× (%4.2f..%4.2f)", c, median(q), slices.Min(q), slices.Max(q))
		}
		fmt.Println()
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// closedLoop runs clients goroutines each calling call(i) with the next
// unused index until d has passed or limit indices are used, and returns how
// many calls succeeded and how long it took.
func closedLoop(clients, limit int, d time.Duration, call func(i int) error) (int, time.Duration, error) {
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		once       sync.Once
		first      error
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= limit {
					return
				}
				if err := call(i); err != nil {
					once.Do(func() { first = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return int(done.Load()), time.Since(start), first
}

// workload is the entries every peer appends: signed envelopes of about 500
// bytes, as chemledger's benchmark submits.
type workload struct {
	envs    [][]byte
	keysDir string // a data dir whose member keys signed envs
}

func newWorkload(n int) (*workload, error) {
	dir, err := os.MkdirTemp("", "peers-keys-")
	if err != nil {
		return nil, err
	}
	in, err := servertest.Start(dir, servertest.Options{NoDetection: true})
	if err != nil {
		return nil, err
	}
	signer := in.Keys["CN-GACC"].Signer()
	in.Stop()
	w := &workload{envs: make([][]byte, n)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	workers := 8
	for g := range workers {
		wg.Go(func() {
			for i := g; i < n; i += workers {
				payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(event(i))
				if err == nil {
					w.envs[i], err = envelope.Sign(envelope.PayloadTypeEventProto, payload, signer)
				}
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	// The keys dir is kept: every chemledger peer starts from it, so the
	// envelopes' key is a member's key there.
	w.keysDir = dir
	return w, first
}

func event(i int) *chemledgerv1.ShipmentEvent {
	t := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return &chemledgerv1.ShipmentEvent{
		EventId:         fmt.Sprintf("BENCH-%09d", i),
		Kind:            chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
		ShipmentRef:     fmt.Sprintf("PEN-CN-2026-%06d", i%100000),
		Chemical:        &chemledgerv1.Chemical{Cas: "39742-60-4", HsCode: "293337", Name: "N-Phenethyl-4-piperidone"},
		Quantity:        &chemledgerv1.Quantity{Value: float64(100 + i%400), Unit: "KGM"},
		Exporter:        &chemledgerv1.Party{Name: "Hangzhou Example Fine Chemical Co.", Country: "CN"},
		Importer:        &chemledgerv1.Party{Name: "Distribuidora Ejemplo S.A. de C.V.", Country: "MX"},
		Consignee:       &chemledgerv1.Party{Name: "Laboratorios Ejemplo S.A.", Country: "MX"},
		OccurredTime:    timestamppb.New(t),
		LocationCountry: "CN",
	}
}

// tessera appends to Tessera's POSIX log, tuned for the client count: a
// batch as large as the clients, 25 ms max age, a checkpoint every 100 ms.
// Add's future returns once the entry is sequenced and durable.
func (w *workload) tessera(ctx context.Context, dir string, clients int, d time.Duration) (int, time.Duration, error) {
	skey, _, err := note.GenerateKey(rand.Reader, "peers.bench/tessera")
	if err != nil {
		return 0, 0, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return 0, 0, err
	}
	drv, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	app, shutdown, _, err := tessera.NewAppender(ctx, drv, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(uint(clients), 25*time.Millisecond).
		WithCheckpointInterval(100*time.Millisecond))
	if err != nil {
		return 0, 0, err
	}
	defer shutdown(context.Background())
	return closedLoop(clients, len(w.envs), d, func(i int) error {
		_, err := app.Add(ctx, tessera.NewEntry(w.envs[i]))()
		return err
	})
}

// bbolt is bare bbolt group commit, batches up to the ledger's maximum.
func (w *workload) bbolt(ctx context.Context, dir string, clients int, d time.Duration) (int, time.Duration, error) {
	res, err := baseline.Run(ctx, dir, clients, len(w.envs[0]), ledger.DefaultMaxBatch, d)
	return res.Writes, res.Elapsed, err
}

// instance starts chemledger over a copy of the keys directory.
func (w *workload) instance(dir string) (*servertest.Instance, error) {
	if err := os.CopyFS(dir, os.DirFS(w.keysDir)); err != nil {
		return nil, err
	}
	return servertest.Start(dir, servertest.Options{NoDetection: true})
}

// ledger submits pre-admitted submissions to the ledger: sequencing, group
// commit and receipts, without parsing or signature checks.
func (w *workload) ledger(ctx context.Context, dir string, clients int, d time.Duration) (int, time.Duration, error) {
	in, err := w.instance(dir)
	if err != nil {
		return 0, 0, err
	}
	defer in.Stop()
	return closedLoop(clients, len(w.envs), d, func(i int) error {
		_, err := in.Ledger.Submit(ctx, ledger.Submission{
			ID: fmt.Sprintf("bench-%d", i), Leaf: w.envs[i], Member: "CN-GACC",
			ShipmentRef: fmt.Sprintf("PEN-CN-2026-%06d", i%100000), CAS: "39742-60-4", Kind: "PRE_EXPORT_NOTIFICATION",
			EventKey: "CN-GACC\x00" + fmt.Sprintf("BENCH-%09d", i),
		})
		return err
	})
}

// handler calls the gRPC service's CreateEntry in process with signed
// envelopes: parse, every signature verified, validation, then the ledger.
func (w *workload) handler(ctx context.Context, dir string, clients int, d time.Duration) (int, time.Duration, error) {
	in, err := w.instance(dir)
	if err != nil {
		return 0, 0, err
	}
	defer in.Stop()
	svc := server.NewLedgerService(in.Ledger, in.Members, in.VerifierKey, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return closedLoop(clients, len(w.envs), d, func(i int) error {
		_, err := svc.CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: fmt.Sprintf("bench-%d", i), Envelope: w.envs[i]})
		return err
	})
}

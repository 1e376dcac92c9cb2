package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// event returns the i-th benchmark event: a pre-export notification of NPP,
// the size of a lean real one (the signed envelope is about 500 bytes).
func event(i int) *chemledgerv1.ShipmentEvent {
	t := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%10_000_000) * time.Second)
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

// signedEnvelopes signs n events from first on every core.
func signedEnvelopes(first, n int, key members.PrivateKey) ([][]byte, error) {
	signer := key.Signer()
	return signedEnvelopesBy(first, n, func(int) envelope.Signer { return signer })
}

// signedEnvelopesBy signs n events from first on every core, event first+i
// with signerOf(i).
func signedEnvelopesBy(first, n int, signerOf func(i int) envelope.Signer) ([][]byte, error) {
	return signEach(n, func(i int) *chemledgerv1.ShipmentEvent { return event(first + i) }, signerOf)
}

// signEach signs gen(0) to gen(n-1) on every core, gen(i) with signerOf(i),
// as deterministic binary protobuf.
func signEach(n int, gen func(i int) *chemledgerv1.ShipmentEvent, signerOf func(i int) envelope.Signer) ([][]byte, error) {
	out := make([][]byte, n)
	err := onEveryCore(n, func(i int) error {
		payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(gen(i))
		if err != nil {
			return err
		}
		out[i], err = envelope.Sign(envelope.PayloadTypeEventProto, payload, signerOf(i))
		return err
	})
	return out, err
}

// onEveryCore calls f(0) to f(n-1) on GOMAXPROCS goroutines, goroutine w
// taking w, w+GOMAXPROCS, ... in turn. A goroutine stops at its first
// error; onEveryCore returns the first error of all.
func onEveryCore(n int, f func(i int) error) error {
	var (
		wg   sync.WaitGroup
		once sync.Once
		err  error
	)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if e := f(i); e != nil {
					once.Do(func() { err = e })
					return
				}
			}
		})
	}
	wg.Wait()
	return err
}

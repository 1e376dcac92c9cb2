package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// BenchmarkAdmit measures the CPU one submission costs before it reaches
// the sequencer: envelope parsing, the signature check, decoding and
// validation.
func BenchmarkAdmit(b *testing.B) {
	layout := datadir.Layout{Dir: b.TempDir()}
	if err := datadir.EnsureDev(layout); err != nil {
		b.Fatal(err)
	}
	signer, _ := datadir.ReadLogSigner(layout)
	vkey, _ := datadir.ReadLogVerifierKey(layout)
	verifier, _ := note.NewVerifier(vkey)
	reg, err := members.Load(layout.Members())
	if err != nil {
		b.Fatal(err)
	}
	key, err := members.ReadPrivateKey(layout.MemberKey("CN-GACC"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lcfg := ledger.DefaultConfig(signer, verifier)
	lcfg.NewLog = true
	l, err := ledger.Open(st, lcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	s := NewLedgerService(l, reg, vkey, slog.Default()).(*ledgerService)
	ev := &chemledgerv1.ShipmentEvent{
		EventId: "BENCH-1", Kind: chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
		ShipmentRef:  "PEN-CN-2026-000001",
		Chemical:     &chemledgerv1.Chemical{Cas: "39742-60-4", HsCode: "293337", Name: "N-Phenethyl-4-piperidone"},
		Quantity:     &chemledgerv1.Quantity{Value: 120, Unit: "KGM"},
		Exporter:     &chemledgerv1.Party{Name: "Hangzhou Example Fine Chemical Co.", Country: "CN"},
		Importer:     &chemledgerv1.Party{Name: "Distribuidora Ejemplo S.A. de C.V.", Country: "MX"},
		Consignee:    &chemledgerv1.Party{Name: "Laboratorios Ejemplo S.A.", Country: "MX"},
		OccurredTime: timestamppb.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), LocationCountry: "CN",
	}
	payload, err := proto.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	env, err := envelope.Sign(envelope.PayloadTypeEventProto, payload, key.Signer())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.admit(context.Background(), "bench-1", env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := envelope.Parse(env); err != nil {
				b.Fatal(err)
			}
		}
	})
	e, _ := envelope.Parse(env)
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := envelope.Verify(e, reg.Key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

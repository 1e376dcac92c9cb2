package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/client/clienttest"

	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func TestGetAndList(t *testing.T) {
	d := newDevLog(t)
	var in strings.Builder
	for _, id := range []string{"E-0", "E-1", "E-2", "E-3", "E-4"} {
		in.WriteString(`{"eventId":"` + id + `","kind":"EVENT_KIND_EXPORT_DECLARATION","locationCountry":"IN"}` + "\n")
	}
	if r := run(t, nil, strings.NewReader(in.String()), d.flags("submit", "-")...); r.err != nil {
		t.Fatalf("submit: %v", r.err)
	}

	// get: for people, the decoded event first and no envelope bytes;
	// --output json, the whole entry.
	r := run(t, nil, nil, d.flags("get", "3")...)
	if r.err != nil {
		t.Fatalf("get 3: %v", r.err)
	}
	header, rest, _ := strings.Cut(r.stdout, "\n")
	eventAt, memberAt := strings.Index(rest, `"eventId": "E-3"`), strings.Index(rest, "member         IN-NCB")
	if header != "entry 3: EXPORT_DECLARATION" || eventAt < 0 || memberAt < 0 || eventAt > memberAt {
		t.Errorf("get 3 printed:\n%s\nwant the header \"entry 3: EXPORT_DECLARATION\", then the decoded event (indented JSON), then member IN-NCB", r.stdout)
	}
	if strings.Contains(r.stdout, `"leaf"`) || strings.Contains(r.stdout, "payload\":") {
		t.Errorf("get 3 printed the envelope:\n%s\nwant it only with --output json", r.stdout)
	}
	r = run(t, nil, nil, d.flags("get", "3", "--output", "json")...)
	var e chemledgerv1.Entry
	if r.err != nil || protojson.Unmarshal([]byte(r.stdout), &e) != nil || e.GetEvent().GetEventId() != "E-3" || e.GetMember() != "IN-NCB" || len(e.GetLeaf()) == 0 {
		t.Fatalf("get 3 --output json = %q, %v; want the entry of E-3 by IN-NCB with its envelope", r.stdout, r.err)
	}
	if !strings.Contains(r.stdout, "\n  ") {
		t.Errorf("get --output json printed %q, want indented JSON", r.stdout)
	}
	for _, args := range [][]string{{"get", "-1"}, {"get", "3", "--output", "yaml"}, {"list", "--output", "yaml"}} {
		if r := run(t, nil, nil, d.flags(args...)...); r.err == nil {
			t.Errorf("%v succeeded", args)
		}
	}

	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"list"}, []string{"E-0", "E-1", "E-2", "E-3", "E-4"}},
		{[]string{"list", "--page-size", "2", "--limit", "3"}, []string{"E-0", "E-1", "E-2"}},
		{[]string{"list", "--filter", `member = "IN-NCB"`, "--page-size", "1"}, []string{"E-0", "E-1", "E-2", "E-3", "E-4"}},
		{[]string{"list", "--filter", `member = "US-CBP"`}, nil},
	}
	for _, tt := range tests {
		r := run(t, nil, nil, d.flags(append(tt.args, "--output", "json")...)...)
		if r.err != nil {
			t.Errorf("%v: %v", tt.args, r.err)
			continue
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
			if l == "" {
				continue
			}
			var e chemledgerv1.Entry
			if err := protojson.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%v: line %q: %v", tt.args, l, err)
			}
			got = append(got, e.GetEvent().GetEventId())
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%v --output json = %v, want %v", tt.args, got, tt.want)
		}

		// The table: a header, then one row per entry, what it says first.
		r = run(t, nil, nil, d.flags(tt.args...)...)
		if r.err != nil {
			t.Errorf("%v: %v", tt.args, r.err)
			continue
		}
		rows := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if f := strings.Fields(rows[0]); len(f) == 0 || f[0] != "KIND" {
			t.Errorf("%v header %q, want it to start with KIND", tt.args, rows[0])
		}
		if len(rows)-1 != len(tt.want) {
			t.Errorf("%v printed %d rows:\n%s\nwant %d", tt.args, len(rows)-1, r.stdout, len(tt.want))
			continue
		}
		for i, row := range rows[1:] {
			f := strings.Fields(row)
			if len(f) != 9 || f[0] != "EXPORT_DECLARATION" || f[6] != strconv.Itoa(i) || f[7] != "IN-NCB" {
				t.Errorf("%v row %d = %q, want EXPORT_DECLARATION first, then index %d and member IN-NCB", tt.args, i, row, i)
			}
		}
	}
}

func TestCheckpointAndVerify(t *testing.T) {
	d := newDevLog(t)
	d.srv.AppendLeaves([]byte("a"), []byte("b"), []byte("c"))
	kept := filepath.Join(t.TempDir(), "kept.note")

	r := run(t, nil, nil, d.flags("checkpoint", "--out", kept)...)
	file, err := os.ReadFile(kept)
	if r.err != nil || err != nil || r.stdout != string(file) || !strings.HasPrefix(r.stdout, "test.example/log\n3\n") {
		t.Fatalf("checkpoint = %q, %v; file %q, %v; want the same signed note of size 3", r.stdout, r.err, file, err)
	}

	d.srv.AppendLeaves([]byte("d"), []byte("e"))
	r = run(t, nil, nil, d.flags("verify", "consistency", "--since", kept)...)
	if want := "the log of size 5 extends the kept checkpoint of size 3\n"; r.err != nil || r.stdout != want {
		t.Errorf("verify consistency = %q, %v; want %q", r.stdout, r.err, want)
	}

	r = run(t, nil, nil, d.flags("verify", "inclusion", "4")...)
	latest := run(t, nil, nil, d.flags("checkpoint")...)
	root := strings.Split(latest.stdout, "\n")[2]
	if want := "entry 4 is included in the tree of size 5 (root " + root + ")\n"; r.err != nil || r.stdout != want {
		t.Errorf("verify inclusion = %q, %v; want %q", r.stdout, r.err, want)
	}
	if r := run(t, nil, nil, d.flags("verify", "inclusion", "5")...); r.err == nil {
		t.Errorf("verify inclusion of an entry past the end succeeded: %q", r.stdout)
	}

	d.srv.Rewrite(2, []byte("C"), []byte("d"), []byte("e"))
	rewritten := run(t, nil, nil, d.flags("checkpoint")...)
	r = run(t, nil, nil, d.flags("verify", "consistency", "--since", kept)...)
	if r.err == nil || !strings.Contains(r.stdout, string(file)) || !strings.Contains(r.stdout, rewritten.stdout) {
		t.Errorf("verify consistency after a rewrite = %q, %v; want an error and both signed notes", r.stdout, r.err)
	}
}

func TestLogKeyAndEnvironment(t *testing.T) {
	d := newDevLog(t)
	d.srv.AppendLeaves([]byte("a"))
	empty := t.TempDir()
	_, otherKey, err := note.GenerateKey(rand.Reader, clienttest.Origin)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantErr    bool
		wantStderr string
		wantErrIn  string
	}{
		{name: "flags", args: d.flags("checkpoint")},
		{name: "environment", env: map[string]string{"CHEMLEDGER_SERVER": d.srv.Addr, "CHEMLEDGER_DATA_DIR": d.dir}, args: []string{"checkpoint"}},
		{
			name:    "a flag wins over the environment",
			env:     map[string]string{"CHEMLEDGER_SERVER": d.srv.Addr, "CHEMLEDGER_DATA_DIR": d.dir},
			args:    []string{"--server", "127.0.0.1:1", "--timeout", "5s", "checkpoint"},
			wantErr: true,
		},
		{
			name:       "trust on first use, with a warning",
			args:       []string{"--server", d.srv.Addr, "--data-dir", empty, "checkpoint"},
			wantStderr: "warning: no log verifier key",
		},
		{
			name: "--log-key instead of the data dir",
			args: []string{"--server", d.srv.Addr, "--data-dir", empty, "--log-key", datadir.Layout{Dir: d.dir}.LogPub(), "checkpoint"},
		},
		{
			name: "CHEMLEDGER_LOG_KEY",
			env:  map[string]string{"CHEMLEDGER_LOG_KEY": datadir.Layout{Dir: d.dir}.LogPub()},
			args: []string{"--server", d.srv.Addr, "--data-dir", empty, "checkpoint"},
		},
		{
			name:      "a log key that is not the log's",
			args:      []string{"--server", d.srv.Addr, "--data-dir", empty, "--log-key", writeFile(t, "other.pub", otherKey+"\n"), "checkpoint"},
			wantErr:   true,
			wantErrIn: "verification failed",
		},
		{
			name:    "a malformed log key",
			args:    []string{"--server", d.srv.Addr, "--log-key", writeFile(t, "bad.pub", "not a key\n"), "checkpoint"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, nil, tt.args...)
			if (r.err != nil) != tt.wantErr {
				t.Fatalf("%v with env %v: stdout %q, err %v; want error %v", tt.args, tt.env, r.stdout, r.err, tt.wantErr)
			}
			if tt.wantErrIn != "" && !strings.Contains(r.err.Error(), tt.wantErrIn) {
				t.Errorf("error %v, want one containing %q", r.err, tt.wantErrIn)
			}
			if !tt.wantErr && !strings.HasPrefix(r.stdout, "test.example/log\n1\n") {
				t.Errorf("stdout = %q, want the signed checkpoint of size 1", r.stdout)
			}
			if tt.wantStderr == "" && r.stderr != "" || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	r := run(t, nil, nil, "--data-dir", dir, "keygen", "--member", "FR-DGDDI")
	if r.err != nil {
		t.Fatal(r.err)
	}
	path := datadir.Layout{Dir: dir}.MemberKey("FR-DGDDI")
	p, err := members.ReadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	var pub map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &pub); err != nil {
		t.Fatalf("keygen printed %q: %v", r.stdout, err)
	}
	want := map[string]string{"id": p.KeyID, "ed25519": base64.StdEncoding.EncodeToString(p.Public().Ed25519)}
	if pub["id"] != want["id"] || pub["ed25519"] != want["ed25519"] || len(pub) != 2 || !strings.HasPrefix(p.KeyID, "FR-DGDDI-") {
		t.Errorf("keygen printed %v, want %v", pub, want)
	}

	if r := run(t, nil, nil, "--data-dir", dir, "keygen", "--member", "FR-DGDDI"); r.err == nil || !strings.Contains(r.err.Error(), "exists") {
		t.Errorf("keygen over an existing key: %v, want a refusal", r.err)
	}
	if again, _ := members.ReadPrivateKey(path); string(again.Seed) != string(p.Seed) {
		t.Error("keygen replaced an existing key")
	}
	out := filepath.Join(t.TempDir(), "k.json")
	if r := run(t, nil, nil, "keygen", "--member", "MX-SAT", "--out", out); r.err != nil {
		t.Errorf("keygen --out: %v", r.err)
	} else if _, err := members.ReadPrivateKey(out); err != nil {
		t.Errorf("keygen --out wrote no key: %v", err)
	}
	for _, bad := range []string{"", "fr-dgddi", "FRANCE"} {
		if r := run(t, nil, nil, "--data-dir", dir, "keygen", "--member", bad); r.err == nil {
			t.Errorf("keygen --member %q succeeded", bad)
		}
	}
}

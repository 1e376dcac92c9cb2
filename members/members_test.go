package members

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "US-CBP.json")
	p, err := GenerateKey("US-CBP")
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKey(path, p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := ReadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyID != p.KeyID || string(got.Seed) != string(p.Seed) {
		t.Fatalf("read back %+v, want %+v", got, p)
	}
	if err := WritePrivateKey(path, p); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("overwriting a key: %v, want ErrKeyExists", err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte(`{"x":1}`)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivateKey(path); err == nil {
		t.Fatal("a key file with trailing data was accepted")
	}
}

func TestParseMembers(t *testing.T) {
	p, _ := GenerateKey("US-CBP")
	pub := p.Public()
	tests := []struct {
		name    string
		members []Member
		wantErr bool
	}{
		{"valid", []Member{{ID: "US-CBP", Country: "US", Keys: []PublicKey{pub}}}, false},
		{"bad id", []Member{{ID: "us cbp", Keys: []PublicKey{pub}}}, true},
		{"duplicate member", []Member{{ID: "US-CBP"}, {ID: "US-CBP"}}, true},
		{"duplicate key", []Member{{ID: "US-CBP", Keys: []PublicKey{pub}}, {ID: "MX-ANAM", Keys: []PublicKey{pub}}}, true},
		{"short key", []Member{{ID: "US-CBP", Keys: []PublicKey{{ID: "k", Ed25519: []byte{1, 2}}}}}, true},
		{"empty key id", []Member{{ID: "US-CBP", Keys: []PublicKey{{Ed25519: pub.Ed25519}}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.members)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%+v) error = %v, want error %v", tc.members, err, tc.wantErr)
			}
		})
	}
	if _, err := Parse([]byte(`{"members":[],"extra":1}`)); err == nil {
		t.Error("unknown field in a members file was accepted")
	}
}

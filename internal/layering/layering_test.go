package layering

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/chemledger/chemledger"

// pkg is what go/build says of one package, as far as the rules need.
type pkg struct {
	ImportPath   string
	Dir          string
	GoFiles      []string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// rel is a package's path inside the module ("storage", "internal/filter").
func (p pkg) rel() string { return strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/") }

// listModule reads every package of the module with go/build, from the
// module root. It reads the files itself rather than asking `go list`, so
// that go test's cache sees which files the result depends on and runs the
// test again when any of them changes.
func listModule(t *testing.T) []pkg {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); path != root && err == nil {
			return filepath.SkipDir // a nested module (bench/peers) is not this module
		}
		bp, err := build.Default.ImportDir(path, 0)
		var none *build.NoGoError
		if errors.As(err, &none) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read package %s: %w", path, err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		ip := module
		if rel != "." {
			ip += "/" + filepath.ToSlash(rel)
		}
		pkgs = append(pkgs, pkg{ImportPath: ip, Dir: path, GoFiles: bp.GoFiles,
			Imports: bp.Imports, TestImports: bp.TestImports, XTestImports: bp.XTestImports})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("found only %d packages under %s; the test is not looking at the module", len(pkgs), root)
	}
	return pkgs
}

// under reports whether the module-relative path rel is prefix or inside it.
func under(rel, prefix string) bool { return rel == prefix || strings.HasPrefix(rel, prefix+"/") }

// ours turns an import path of this module into its module-relative path.
func ours(imp string) (string, bool) {
	if !strings.HasPrefix(imp, module+"/") {
		return "", false
	}
	return strings.TrimPrefix(imp, module+"/"), true
}

// rule is one layering rule: packages matching who must not import what
// the forbidden function rejects (it returns why, or "").
type rule struct {
	name      string
	who       func(rel string) bool
	forbidden func(imp string) string
	tests     bool // also applies to the packages' test imports
}

var ioPackages = []string{"os", "os/exec", "os/signal", "net", "net/http", "net/url", "syscall", "io/ioutil", "log", "log/slog", "runtime/pprof"}

func isNetwork(imp string) bool {
	return imp == "net" || strings.HasPrefix(imp, "net/") || strings.HasPrefix(imp, "google.golang.org/grpc") ||
		strings.HasPrefix(imp, "github.com/grpc-ecosystem/") || strings.HasPrefix(imp, "golang.org/x/net")
}

func rules() []rule {
	bboltOwners := []string{"storage", "audit"}
	return []rule{
		{
			name: "only storage and audit (each with its own file) import bbolt",
			who: func(rel string) bool {
				return !slices.ContainsFunc(bboltOwners, func(o string) bool { return under(rel, o) })
			},
			forbidden: func(imp string) string {
				if strings.HasPrefix(imp, "go.etcd.io/bbolt") {
					return "bbolt belongs to storage (the ledger) and audit (the trail)"
				}
				return ""
			},
		},
		{
			name: "detect is a pure fold: no I/O, no network, no storage",
			who:  func(rel string) bool { return under(rel, "detect") },
			forbidden: func(imp string) string {
				if slices.Contains(ioPackages, imp) || isNetwork(imp) {
					return "detect must not do I/O; the deriver feeds it"
				}
				if r, ok := ours(imp); ok && (under(r, "storage") || under(r, "ledger") || under(r, "derive") || under(r, "server")) {
					return "detect sees a read-only view, never the store or the service"
				}
				return ""
			},
		},
		{
			name: "storage knows nothing of the API or the network",
			who:  func(rel string) bool { return under(rel, "storage") },
			forbidden: func(imp string) string {
				if isNetwork(imp) || strings.HasPrefix(imp, "google.golang.org/protobuf") {
					return "storage speaks keys and bytes, not wire types"
				}
				if r, ok := ours(imp); ok {
					return "storage is the bottom layer; it imports none of the module (" + r + ")"
				}
				return ""
			},
		},
		{
			name: "nothing under internal imports the service, the commands or the first-rank parts above it",
			who:  func(rel string) bool { return under(rel, "internal") },
			forbidden: func(imp string) string {
				if r, ok := ours(imp); ok {
					for _, up := range []string{"server", "cmd", "client", "derive", "ledger", "e2e"} {
						if under(r, up) {
							return "internal helpers sit below " + up
						}
					}
				}
				return ""
			},
		},
		{
			name: "no import runs upward into the service or the commands",
			who:  func(rel string) bool { return !under(rel, "server") && !under(rel, "cmd") && !under(rel, "e2e") },
			forbidden: func(imp string) string {
				if r, ok := ours(imp); ok && (under(r, "server") || under(r, "cmd")) {
					return "only cmd (and tests of cmd) may stand on server; server stands on nothing above it"
				}
				return ""
			},
		},
		{
			name: "the ledger does not know the detector, the deriver or the API",
			who:  func(rel string) bool { return under(rel, "ledger") },
			forbidden: func(imp string) string {
				if r, ok := ours(imp); ok && (under(r, "detect") || under(r, "derive") || under(r, "proto") || under(r, "client")) {
					return "detection reads what the ledger committed; the ledger never calls it"
				}
				if isNetwork(imp) {
					return "the ledger is reached through server, never over the network itself"
				}
				return ""
			},
		},
		{
			name: "the client library stands on the API contract, not on the server's insides",
			who:  func(rel string) bool { return rel == "client" },
			forbidden: func(imp string) string {
				if r, ok := ours(imp); ok && (under(r, "ledger") || under(r, "storage") || under(r, "derive") || under(r, "detect")) {
					return "a member's client must work without the server's packages"
				}
				return ""
			},
		},
		{
			name: "only server keeps metrics: nothing else imports Prometheus",
			who:  func(rel string) bool { return !under(rel, "server") },
			forbidden: func(imp string) string {
				if strings.HasPrefix(imp, "github.com/prometheus/") {
					return "ledger, derive and audit report through observers and accessors; server turns them into metrics"
				}
				return ""
			},
		},
		{
			name: "the OpenAPI conversion is a build step: only internal/openapigen imports kin-openapi",
			who:  func(rel string) bool { return rel != "internal/openapigen" },
			forbidden: func(imp string) string {
				if strings.HasPrefix(imp, "github.com/getkin/kin-openapi") {
					return "the served document is converted when generated (scripts/genproto), not in the binary"
				}
				return ""
			},
		},
		{
			name: "proto is the contract: it imports nothing of the module",
			who:  func(rel string) bool { return under(rel, "proto") },
			forbidden: func(imp string) string {
				if r, ok := ours(imp); ok {
					return "generated code must not depend on " + r
				}
				return ""
			},
		},
	}
}

// violations applies every rule to pkgs and returns one line per breach.
func violations(pkgs []pkg) []string {
	var out []string
	for _, r := range rules() {
		for _, p := range pkgs {
			if !r.who(p.rel()) {
				continue
			}
			imps := p.Imports
			if r.tests {
				imps = slices.Concat(imps, p.TestImports, p.XTestImports)
			}
			for _, imp := range imps {
				if why := r.forbidden(imp); why != "" {
					out = append(out, r.name+": "+p.rel()+" imports "+imp+" ("+why+")")
				}
			}
		}
	}
	return out
}

func TestLayering(t *testing.T) {
	for _, v := range violations(listModule(t)) {
		t.Error(v)
	}
}

// TestRulesCatchBreaches makes sure each rule can fail: a package graph with
// one breach per rule must yield exactly that many violations.
func TestRulesCatchBreaches(t *testing.T) {
	bad := []pkg{
		{ImportPath: module + "/derive", Imports: []string{"go.etcd.io/bbolt"}},
		{ImportPath: module + "/detect", Imports: []string{"os"}},
		{ImportPath: module + "/storage", Imports: []string{module + "/ledger"}},
		{ImportPath: module + "/internal/filter", Imports: []string{module + "/server"}},
		{ImportPath: module + "/members", Imports: []string{module + "/cmd/chemledger"}},
		{ImportPath: module + "/ledger", Imports: []string{module + "/detect"}},
		{ImportPath: module + "/client", Imports: []string{module + "/storage"}},
		{ImportPath: module + "/proto/chemledger/v1", Imports: []string{module + "/envelope"}},
		{ImportPath: module + "/ledger", Imports: []string{"github.com/prometheus/client_golang/prometheus"}},
		{ImportPath: module + "/server", Imports: []string{"github.com/getkin/kin-openapi/openapi3"}},
	}
	for _, p := range bad {
		if got := violations([]pkg{p}); len(got) == 0 {
			t.Errorf("%s importing %v broke no rule; want at least one", p.rel(), p.Imports)
		}
	}
	good := []pkg{
		{ImportPath: module + "/storage", Imports: []string{"go.etcd.io/bbolt", "bytes"}},
		{ImportPath: module + "/detect", Imports: []string{module + "/internal/refdata", "embed"}},
		{ImportPath: module + "/cmd/chemledgerd", Imports: []string{module + "/server"}},
		{ImportPath: module + "/server", Imports: []string{"github.com/prometheus/client_golang/prometheus"}},
		{ImportPath: module + "/internal/openapigen", Imports: []string{"github.com/getkin/kin-openapi/openapi2conv"}},
	}
	for _, p := range good {
		if got := violations([]pkg{p}); len(got) != 0 {
			t.Errorf("%s: unexpected violations %v", p.rel(), got)
		}
	}
}

// TestDetectReadsNoClock keeps time-based rules deterministic: the detector
// takes "as of" from the log, so a rebuild gives the same flags. A call to
// time.Now or time.Since in detect's non-test code would make it read the
// wall clock.
func TestDetectReadsNoClock(t *testing.T) {
	for _, p := range listModule(t) {
		if !under(p.rel(), "detect") {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			if bad := clockCalls(t, path); len(bad) > 0 {
				t.Errorf("%s reads the wall clock at %v; take the evaluation time as an input", path, bad)
			}
		}
	}
}

// clockCalls returns the positions of time.Now, time.Since and time.Until
// calls in one file.
func clockCalls(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var at []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && slices.Contains([]string{"Now", "Since", "Until"}, sel.Sel.Name) {
			at = append(at, fset.Position(sel.Pos()).String())
		}
		return true
	})
	return at
}

func TestClockCallsFindsACall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.go")
	src := "package x\nimport \"time\"\nfunc f() time.Time { return time.Now() }\n"
	if err := writeFile(path, src); err != nil {
		t.Fatal(err)
	}
	if got := clockCalls(t, path); len(got) != 1 {
		t.Fatalf("clockCalls found %v in a file that calls time.Now once", got)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

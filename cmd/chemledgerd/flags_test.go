package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// helpFlag is one flag as a command's --help prints it.
type helpFlag struct {
	name, typ, text string
}

// helpFlags runs `chemledgerd ARGS --help` and parses the flags it lists.
func helpFlags(t *testing.T, args []string) []helpFlag {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), append(args, "--help"), &out, &out); err != nil {
		t.Fatalf("chemledgerd %v --help: %v\n%s", args, err, out.String())
	}
	head := regexp.MustCompile(`^  -([a-z0-9-]+)(?: (\w+))?$`)
	var fs []helpFlag
	for line := range strings.SplitSeq(out.String(), "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			fs = append(fs, helpFlag{name: m[1], typ: m[2]})
		} else if len(fs) > 0 && strings.HasPrefix(line, "    \t") {
			fs[len(fs)-1].text += strings.TrimPrefix(line, "    \t") + " "
		}
	}
	if len(fs) == 0 {
		t.Fatalf("chemledgerd %v --help lists no flags:\n%s", args, out.String())
	}
	return fs
}

// TestEveryFlagHasEnvFallback: every flag of every subcommand names its
// CHEMLEDGER_* variable in its help, and with that variable set the flag
// takes its value (shown as the default the flag then has).
func TestEveryFlagHasEnvFallback(t *testing.T) {
	excused := map[string]bool{}
	envName := regexp.MustCompile(`\(env (CHEMLEDGER_[A-Z0-9_]+)`)
	for _, args := range [][]string{{"serve"}, {"init"}, {"ca", "init"}, {"ca", "sign"}, {"ca", "service"}, {"backup"}, {"restore"}, {"rebuild"}} {
		cmd := strings.Join(args, " ")
		t.Run(cmd, func(t *testing.T) {
			flags := helpFlags(t, args)
			want := map[string]string{}
			for _, f := range flags {
				m := envName.FindStringSubmatch(f.text)
				if m == nil {
					if !excused[args[0]+" --"+f.name] {
						t.Errorf("%s --%s: its help %q names no CHEMLEDGER_* variable", cmd, f.name, f.text)
					}
					continue
				}
				var val, shown string
				switch f.typ {
				case "":
					val, shown = "true", "(default true)"
				case "int":
					val, shown = "7", "(default 7)"
				case "float":
					val, shown = "2.5", "(default 2.5)"
				default:
					val = "env-test-" + f.name
					shown = `(default "` + val + `")`
				}
				t.Setenv(m[1], val)
				want[f.name] = shown
			}
			for _, f := range helpFlags(t, args) {
				// A flag of its own type (a repeatable one) shows its
				// default unquoted.
				if w, ok := want[f.name]; ok && !strings.Contains(f.text, w) && !strings.Contains(f.text, strings.ReplaceAll(w, `"`, "")) {
					t.Errorf("%s --%s with its variable set: help %q, want the value taken, %s", cmd, f.name, f.text, w)
				}
			}
		})
	}
}

// TestNumericEnvFallbackRefusesBadValue: a numeric variable that does not
// parse is an error, as the flag's would be, not the default in silence.
func TestNumericEnvFallbackRefusesBadValue(t *testing.T) {
	t.Setenv("CHEMLEDGER_MAX_BATCH", "lots")
	var out bytes.Buffer
	_, err := parseFlags(nil, &out)
	if err == nil || !strings.Contains(err.Error(), "CHEMLEDGER_MAX_BATCH") {
		t.Fatalf("parseFlags with CHEMLEDGER_MAX_BATCH=lots: %v, want an error naming the variable", err)
	}
}

// TestServeFlagsTakeEnv: the values the service runs with, not only the
// help, come from the environment (the four numeric flags that had none).
func TestServeFlagsTakeEnv(t *testing.T) {
	t.Setenv("CHEMLEDGER_MAX_BATCH", "17")
	t.Setenv("CHEMLEDGER_DB_MAX_SIZE", "1048576")
	t.Setenv("CHEMLEDGER_RATE_PER_MEMBER", "3.5")
	t.Setenv("CHEMLEDGER_RATE_BURST", "9")
	var out bytes.Buffer
	o, err := parseFlags(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o.maxBatch != 17 || o.dbMaxSize != 1048576 || o.rate != 3.5 || o.burst != 9 {
		t.Errorf("options %+v, want max-batch 17, db-max-size 1048576, rate 3.5, burst 9", o)
	}
	// An explicit flag wins.
	o, err = parseFlags([]string{"--max-batch", "5"}, &out)
	if err != nil || o.maxBatch != 5 {
		t.Errorf("--max-batch 5 with CHEMLEDGER_MAX_BATCH=17: %d, %v; want 5", o.maxBatch, err)
	}
}

// TestHelpListsSubcommands: `chemledgerd help` and `--help` name every
// subcommand, one line each.
func TestHelpListsSubcommands(t *testing.T) {
	for _, arg := range []string{"help", "--help", "-h"} {
		var out bytes.Buffer
		if err := run(t.Context(), []string{arg}, &out, &out); err != nil {
			t.Fatalf("chemledgerd %s: %v", arg, err)
		}
		for _, c := range []string{"serve", "init", "ca", "backup", "restore", "rebuild"} {
			if !regexp.MustCompile(`(?m)^  ` + c + ` +\S`).MatchString(out.String()) {
				t.Errorf("chemledgerd %s does not list %q on a line of its own:\n%s", arg, c, out.String())
			}
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"bakup"}, &out, &out); err == nil || !strings.Contains(err.Error(), `unknown command "bakup"`) {
		t.Errorf("chemledgerd bakup: %v, want unknown command", err)
	}
}

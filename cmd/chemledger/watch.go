package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/pki"
)

func newWatchCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow the log as it grows",
	}
	cmd.AddCommand(newWatchEntriesCmd(a), newWatchFlagsCmd(a))
	return cmd
}

// watchState is what --state keeps between runs: the filter it was for and
// the index to resume from.
type watchState struct {
	Filter    string `json:"filter"`
	NextIndex uint64 `json:"next_index"`
}

func newWatchEntriesCmd(a *app) *cobra.Command {
	var (
		filter    string
		from      uint64
		stateFile string
		progress  time.Duration
		limit     int
		output    = outputText
	)
	cmd := &cobra.Command{
		Use:   "entries",
		Short: "Print entries that match a filter as they are committed, resuming from a state file",
		Long: `Watch entries prints each committed entry that matches --filter, in log
order, as it arrives (the list table's columns, or with --output json one
chemledger.v1.Entry per line), until interrupted. The filter is the list's,
plus addressed_to = "CC": the notifications, replies and declarations that
name country CC as importer, consignee or transit country.

With --state FILE it starts from the index the file holds and rewrites the
file after every entry printed and every progress message, so a watch
stopped for any reason (Ctrl-C, a crash, a reboot of the log) resumes where
it stopped: no entry is skipped; an entry printed just before a crash may be
printed again. A lost connection is retried by itself, resuming from the
last index received. --timeout does not apply unless given.`,
		Example: `  chemledger watch entries --filter 'addressed_to = "MX" AND kind = PRE_EXPORT_NOTIFICATION' --state mx.watch
  chemledger watch entries --from 120 --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			start := from
			if stateFile != "" {
				st, err := readWatchState(stateFile)
				switch {
				case errors.Is(err, fs.ErrNotExist):
				case err != nil:
					return err
				case st.Filter != filter:
					return fmt.Errorf("%s is the state of a watch with filter %q, not %q: use another --state file", stateFile, st.Filter, filter)
				case cmd.Flags().Changed("from"):
					return fmt.Errorf("--from and a --state file that exists (%s, at index %d) disagree on where to start", stateFile, st.NextIndex)
				default:
					start = st.NextIndex
				}
			}
			ctx := cmd.Context()
			if cmd.Flags().Changed("timeout") || cmd.Root().PersistentFlags().Changed("timeout") {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, a.timeout)
				defer cancel()
			}
			c, err := a.dial(ctx, cmd.ErrOrStderr(), "", pki.RoleAnalyst)
			if err != nil {
				return err
			}
			defer c.Close()
			w := cmd.OutOrStdout()
			n := 0
			for m, err := range c.Watch(ctx, client.WatchOptions{Filter: filter, Start: start, Progress: progress, Reconnect: true}) {
				if err != nil {
					if ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded {
						// Interrupted, or --timeout passed (the log may say
						// so a moment before the local clock does).
						return nil // the state file says where to go on
					}
					return err
				}
				for _, e := range m.GetEntries() {
					if output == outputJSON {
						if err := printJSON(w, e); err != nil {
							return err
						}
					} else if _, err := fmt.Fprintln(w, entryRow(e)); err != nil {
						return err
					}
					n++
					if stateFile != "" {
						if err := writeWatchState(stateFile, watchState{Filter: filter, NextIndex: e.GetIndex() + 1}); err != nil {
							return err
						}
					}
					if limit > 0 && n >= limit {
						return nil
					}
				}
				if stateFile != "" {
					// Past the entries the filter skipped, too.
					if err := writeWatchState(stateFile, watchState{Filter: filter, NextIndex: m.GetNextIndex()}); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", `the list filter, plus addressed_to = "CC"`)
	f.Uint64Var(&from, "from", 0, "the first index to print (without a --state file that exists)")
	f.StringVar(&stateFile, "state", "", "file that keeps where the watch is, to resume from")
	f.DurationVar(&progress, "progress", 0, "how often an idle log says the watch is caught up (0: the log's default)")
	f.IntVar(&limit, "limit", 0, "stop after this many entries (0: never)")
	f.StringVarP(&output, "output", "o", outputText, "text (the list's columns) or json (one whole entry per line)")
	return cmd
}

func readWatchState(path string) (watchState, error) {
	var st watchState
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("watch state %s: %w", path, err)
	}
	return st, nil
}

// writeWatchState replaces the state file by renaming a new one over it,
// so a crash leaves the old state or the new, never half of one. It does
// not fsync: after a power cut the state may be a few entries behind,
// which reprints them, never skips them.
func writeWatchState(path string, st watchState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeStateFile(path, b)
}

func writeStateFile(path string, b []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write watch state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write watch state: %w", err)
	}
	return nil
}

// flagWatchState is what watch flags --state keeps.
type flagWatchState struct {
	Filter string `json:"filter"`
	Cursor uint64 `json:"cursor"`
}

func newWatchFlagsCmd(a *app) *cobra.Command {
	var (
		filter    string
		stateFile string
		progress  time.Duration
		limit     int
		output    = outputText
	)
	cmd := &cobra.Command{
		Use:   "flags",
		Short: "Print flags as they are raised or change status, resuming from a state file",
		Long: `Watch flags prints each flag that matches --filter (the "flags list"
grammar) when the detector raises it or a disposition changes its status:
one line of change, severity, status, rule, flag id and shipment (or with
--output json one chemledger.v1.FlagChange per line). With --state FILE it
resumes from the cursor the file holds and rewrites it after every message.`,
		Example: `  chemledger watch flags --filter 'severity = CRITICAL AND country = "MX"' --state mx-flags.watch`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var st flagWatchState
			if stateFile != "" {
				b, err := os.ReadFile(stateFile)
				switch {
				case errors.Is(err, fs.ErrNotExist):
				case err != nil:
					return err
				default:
					if err := json.Unmarshal(b, &st); err != nil {
						return fmt.Errorf("watch state %s: %w", stateFile, err)
					}
					if st.Filter != filter {
						return fmt.Errorf("%s is the state of a watch with filter %q, not %q: use another --state file", stateFile, st.Filter, filter)
					}
				}
			}
			ctx := cmd.Context()
			if cmd.Root().PersistentFlags().Changed("timeout") {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, a.timeout)
				defer cancel()
			}
			c, err := a.dial(ctx, cmd.ErrOrStderr(), "", pki.RoleAnalyst)
			if err != nil {
				return err
			}
			defer c.Close()
			w := cmd.OutOrStdout()
			n := 0
			for m, err := range c.WatchFlags(ctx, client.WatchFlagsOptions{Filter: filter, Cursor: st.Cursor, Progress: progress, Reconnect: true}) {
				if err != nil {
					if ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded {
						// Interrupted, or --timeout passed (the log may say
						// so a moment before the local clock does).
						return nil
					}
					return err
				}
				for _, ch := range m.GetChanges() {
					if output == outputJSON {
						if err := printJSON(w, ch); err != nil {
							return err
						}
					} else {
						f := ch.GetFlag()
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", strings.TrimPrefix(ch.GetKind().String(), "FLAG_CHANGE_KIND_"),
							severityName(f.GetSeverity()), statusName(f.GetStatus()), f.GetRuleId(), f.GetId(), orDash(f.GetShipmentRef()))
					}
					n++
				}
				if stateFile != "" {
					b, _ := json.Marshal(flagWatchState{Filter: filter, Cursor: m.GetCursor()})
					if err := writeStateFile(stateFile, b); err != nil {
						return err
					}
				}
				if limit > 0 && n >= limit {
					return nil
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", "the flags list filter")
	f.StringVar(&stateFile, "state", "", "file that keeps the watch's cursor, to resume from")
	f.DurationVar(&progress, "progress", 0, "how often an idle log says the watch is caught up (0: the log's default)")
	f.IntVar(&limit, "limit", 0, "stop after the message that brings this many changes (0: never)")
	f.StringVarP(&output, "output", "o", outputText, "text (one line a change) or json (one FlagChange per line)")
	return cmd
}

package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
)

type stormRun struct {
	Impl          string
	N             int     `json:"n"`
	SetupSeconds  float64 `json:"setup_seconds"`
	AdvanceSecs   float64 `json:"advance_seconds"`
	LastNotifySec float64 `json:"last_notification_seconds"`
	Logged        int     `json:"logged"`
	Distinct      int     `json:"distinct"`
	Duplicates    int     `json:"duplicates"`
	Missing       int     `json:"missing"`
	Unknown       int     `json:"unknown"`
	LiveAfter     int     `json:"live_after"`
	NsPerSession  float64 `json:"ns_per_session"`
	Err           string
}

// ExactlyOnce reports whether every session's expiry was logged once.
func (r *stormRun) ExactlyOnce() bool {
	return r.Err == "" && r.Distinct == r.N && r.Logged == r.N && r.Duplicates == 0 && r.Missing == 0 && r.Unknown == 0 && r.LiveAfter == 0
}

type stormResult struct {
	Runs     []stormRun
	Commands []string
}

// runStorm makes N sessions through GET /logme (the ExpirationLogger
// seed: one logged notification each), all at one instant on a fake
// clock, and times the one Advance that expires them all.
func runStorm(ctx context.Context, cfg *config, log io.Writer) (*stormResult, error) {
	rp, err := buildRefprogs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res := &stormResult{}
	exes := []struct{ name, exe string }{{"reference", rp.now}}
	if rp.before != "" {
		exes = append(exes, struct{ name, exe string }{"before", rp.before})
	}
	for _, e := range exes {
		argv := []string{e.exe, "storm", "-n", strconv.Itoa(cfg.stormN)}
		res.Commands = append(res.Commands, displayCmd(cfg, argv))
		out, _, err := runCmd(ctx, 3*time.Minute, "", nil, argv...)
		r := stormRun{Impl: e.name, N: cfg.stormN}
		if err == nil {
			err = lastJSON(out, &r)
		}
		if err != nil {
			r.Err = err.Error()
			fmt.Fprintf(log, "  %-9s FAILED: %v\n%s\n", e.name, err, tail(out, 5))
		} else {
			fmt.Fprintf(log, "  %-9s %s sessions: last notification %.3fs after the Advance began (%.0f ns/session); logged %d, distinct %d, duplicates %d, missing %d, live after %d; setup %.1fs\n",
				e.name, human(r.N), r.LastNotifySec, r.NsPerSession, r.Logged, r.Distinct, r.Duplicates, r.Missing, r.LiveAfter, r.SetupSeconds)
		}
		res.Runs = append(res.Runs, r)
	}
	return res, nil
}

package main

import (
	"fmt"
	"strings"
)

var clusterNames = map[string]string{
	"memory":   "(a) in-memory `serve`",
	"redis":    "(b) `serve --store`, one replica",
	"cluster3": "(c) three replicas on one Redis",
}

func (c *clusterResult) storm(impl string) *clusterStormRun {
	for i := range c.Storm {
		if c.Storm[i].Impl == impl {
			return &c.Storm[i]
		}
	}
	return nil
}

func (r *report) writeClusterHeadline(b *strings.Builder) {
	c := r.cluster
	if c == nil || c.TP == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	t := c.TP
	p("| the reference as a cluster on Redis (section 7), requests/s pooled | %s | %s | %s | (b) / (a) | (c) / (a) |\n|---|---|---|---|---|---|\n",
		clusterNames["memory"], clusterNames["redis"], clusterNames["cluster3"])
	for _, cs := range t.Cases {
		row := "| " + cs.Desc + " |"
		for _, impl := range []string{"memory", "redis", "cluster3"} {
			rps, _ := t.cell(impl, cs.Name).pooled()
			row += fmt.Sprintf(" %.0f |", rps)
		}
		row += " " + t.ratioText("redis", "memory", cs.Name, false) + " | " + t.ratioText("cluster3", "memory", cs.Name, false) + " |\n"
		p("%s", row)
	}
	m, cl := c.storm("memory"), c.storm("cluster3")
	if m != nil && cl != nil {
		p("| expiry storm over HTTP: %s `/logme` sessions, one advance past the timeout; every notification in the union of the `/expired` feeds after (s) | %s | — | %s | — | %s |\n",
			human(cl.N), stormCell(m), stormCell(cl), stormRatio(cl, m))
	}
	p("\n")
}

func stormCell(s *clusterStormRun) string {
	if s.Err != "" {
		return "**FAILED**: " + firstLine(s.Err)
	}
	return fmt.Sprintf("%.2f; exactly once: %s (missing %d, doubled %d)", s.CompleteSeconds, yesNo(s.ExactlyOnce()), s.Missing, s.Doubled)
}

func stormRatio(a, b *clusterStormRun) string {
	if a.Err != "" || b.Err != "" || b.CompleteSeconds == 0 {
		return "—"
	}
	return fmt.Sprintf("**%.1f×** the time", a.CompleteSeconds/b.CompleteSeconds)
}

func (r *report) writeCluster(b *strings.Builder) {
	c := r.cluster
	if c == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 7. The reference as a cluster on Redis\n\n")
	p("The same reference kept in Redis (`serve --store redis://…`, package [`cluster`](cluster/doc.go)) next to the in-memory one, measured in this section's own interleaved rounds, so the ratios are side by side. ")
	p("Redis: %s. Load average (1, 5, 15 min) when the section began: %s; when it ended: %s.\n\n", c.Redis, c.LoadStart, c.LoadEnd)
	p("What the figures mean. The in-memory reference answers a request from its own maps. A replica on Redis makes **one Redis round trip per request**: ")
	p("the whole request's session work is one Lua script, sent by go-redis as `EVALSHA` (`visit` with a cookie: lookup, expiry if due, deadline refresh, the page's operation; ")
	p("`create` without one: the cap check and eviction, the new hash and its deadline in the sorted set), which Redis runs atomically. ")
	p("So each request pays a loopback round trip, RESP encoding on both sides and the script's run in Redis's single thread, and on this 2-core machine ")
	p("redis-server, the replicas and wrk share the same cores: three replicas do not add CPU, they add processes competing for it, and Redis's one thread is what every replica waits on. ")
	p("The rows measure that cost, not a scaled-out deployment. The storm is bounded by the same thing: every ended session is a few commands inside a `sweep` script ")
	p("(`ZRANGEBYSCORE` for a batch of at most 256 due sessions, then per session `ZREM` from the deadlines, `HMGET` and `DEL` of its hash, `ZREM` from the never-visited set, `RPUSH` to the sweeping replica's feed, `HINCRBY` of its fired count and `LLEN` for the feed's bound), ")
	p("and the three replicas' sweeps interleave in Redis one script at a time, which is what makes each notification fire exactly once.\n\n")
	if t := c.TP; t != nil {
		p("### Throughput\n\n")
		p("`wrk %s` against one server, as in section 1; against the three replicas one `wrk %s` whose Lua `setup()` points each thread at one replica (`thread.addr`), ",
			strings.Join(t.WrkArgs, " "), strings.Join(c.SpreadArgs, " "))
		p("so 11 connections on each replica, 33 in all, and its requests/s is the sum over the replicas. ")
		p("With a cookie, all connections send one cookie, made on the third replica and checked beforehand to be honoured by every replica (same page, no new cookie). ")
		p("%d rounds of every configuration, interleaved, after a 1 s warm-up of each. *Serve CPU* is the serve processes' user+system CPU over the requests served; *Redis CPU* is redis-server's.\n\n", t.Reps)
		for _, tg := range t.Targets {
			p("- %s: %s — `%s`\n", clusterNames[tg.Name], tg.Desc, tg.Cmd)
		}
		p("\n| request | configuration | requests/s pooled | requests/s per round: median (min–max) | p50 latency | p99 latency | serve CPU per request | Redis CPU per request | non-2xx, socket errors |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, cs := range t.Cases {
			for _, tg := range t.Targets {
				cell := t.cell(tg.Name, cs.Name)
				if len(cell.Runs) == 0 {
					continue
				}
				bad := 0
				var reqs, store float64
				for _, r := range cell.Runs {
					bad += r.Non2xx + r.Errors
					reqs += float64(r.Requests)
					store += r.StoreCPUSeconds
				}
				rps, cpu := cell.pooled()
				storeCell := "—"
				if tg.Name != "memory" && reqs > 0 {
					storeCell = fmt.Sprintf("%.1f µs", store*1e6/reqs)
				}
				p("| %s | %s | %.0f | %s | %s | %s | %.1f µs | %s | %d |\n", cs.Desc, clusterNames[tg.Name], rps, fmtRange(cell.rps(), "%.0f"),
					fmtRange(cell.lat(false), "%.0f µs"), fmtRange(cell.lat(true), "%.0f µs"), cpu, storeCell, bad)
			}
		}
		p("\nRatios of requests/s, pooled (in brackets: the per-round ratios):\n\n| request | (b) / (a) | (c) / (a) | (c) / (b) |\n|---|---|---|---|\n")
		for _, cs := range t.Cases {
			p("| %s | %s | %s | %s |\n", cs.Desc, t.ratioText("redis", "memory", cs.Name, false), t.ratioText("cluster3", "memory", cs.Name, false),
				t.ratioText("cluster3", "redis", cs.Name, false))
		}
		if len(t.RSSAfter) > 0 {
			p("\nResident memory after all rounds (the no-cookie rounds leave every session they made alive, 900 s timeout):")
			for _, tg := range t.Targets {
				if rss, ok := t.RSSAfter[tg.Name]; ok {
					p(" %s %.0f MB;", clusterNames[tg.Name], float64(rss)/(1<<20))
				}
			}
			if rss, ok := t.RSSAfter["redis-server"]; ok {
				p(" redis-server (both sites, in databases 1 and 2) %.0f MB.", float64(rss)/(1<<20))
			}
			p("\n")
		}
		for _, n := range t.Notes {
			p("\n- %s", n)
		}
		p("\n")
	}
	if len(c.Storm) > 0 {
		p("### Expiry storm across replicas\n\n")
		p("N sessions made by `GET /logme` without a cookie (each registers one logged notification), request i on replica i mod R, %d client connections; ", stormWorkers)
		p("then, timed, `POST /_clock?advance=%s` (the 900 s timeout and a second) sent to every replica at once. A replica on Redis answers its advance only after its own sweeps found nothing more due, ", stormAdvance)
		p("so the three replicas sweep the same sorted set concurrently. Then every replica's `GET /expired` is read and the union (their concatenation) checked uid by uid against the uids made: ")
		p("each must be there **exactly once** (*missing*: made, not in the union; *doubled*: in the union more than once; *unknown*: never made). ")
		p("*Complete after* is from the start of the advance until the union, read after every replica answered, held every notification (the reads of the feeds included; re-read every 100 ms for at most %s if not). ", stormFeedWait)
		p("A row that is not exactly once fails the bench section and is listed under the run's errors.\n\n")
		p("| storm | replicas | sessions | setup, untimed | advance answered by all | complete after | lines per replica | lines in union | missing | doubled | unknown | exactly once |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range c.Storm {
			if s.Err != "" && s.Lines == 0 {
				p("| %s | %d | %s | **FAILED**: %s | | | | | | | | NO |\n", s.Desc, s.Replicas, human(s.N), firstLine(s.Err))
				continue
			}
			var per []string
			for _, n := range s.PerReplica {
				per = append(per, fmt.Sprint(n))
			}
			p("| %s | %d | %s | %.1f s (%.0f/s) | %.3f s | %.3f s | %s | %d | %d | %d | %d | %s |\n", s.Desc, s.Replicas, human(s.N), s.SetupSeconds, s.SetupRPS,
				s.AdvanceSeconds, s.CompleteSeconds, strings.Join(per, " + "), s.Lines, s.Missing, s.Doubled, s.Unknown, yesNo(s.ExactlyOnce()))
		}
		if m, cl := c.storm("memory"), c.storm("cluster3"); m != nil && cl != nil {
			p("\nThree replicas on Redis took %s of one in-memory reference, from the advance to the complete union.\n", strings.ReplaceAll(stormRatio(cl, m), "**", ""))
		}
		p("\nCommands: %s.\n\n", backticks(c.StormCmds))
	}
}

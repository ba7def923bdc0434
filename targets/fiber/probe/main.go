// Command probe is by-hand evidence for README.md: it talks to a running
// fiber-seedsite (main.go) over HTTP and sends cookies by hand, whatever
// their Max-Age says, as a client that replays them would.
//
//	go run ./probe --url http://127.0.0.1:PORT/ [--sessions 10] [--poll 10ms] lifetime   # needs the site's --peek
//	go run ./probe --url URL expire      # /expire, then the cookie held before it, replayed
//	go run ./probe --url URL forged      # ids the server never issued
//	go run ./probe --url URL --n 50 burst  # 50 concurrent /counter requests with one cookie
//
// Flags come before the probe's name (Go's flag package stops at the first
// argument that is not a flag).
//
// lifetime: each session is made with GET / and then looked up every
// --poll with GET /_peek, the adapter's read-only diagnostic (store.Get
// without Save: no refresh, no cookie), until Fiber answers with a fresh
// session; the time from the answer of GET / to that first refusal is how
// long the session lived at the server.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	base   string
	cookie = "session_id"
	client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	idRE   = regexp.MustCompile(`Your session id is: (\S+)`)
	peekRE = regexp.MustCompile(`id (\S+) fresh (\S+) ts (\d+) now ([\d.]+)`)
	numRE  = regexp.MustCompile(`\d+`)
)

func get(path, v string) (status int, body, set, setRaw string) {
	req, err := http.NewRequest("GET", strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		log.Fatal(err)
	}
	if v != "" {
		req.Header.Set("Cookie", cookie+"="+v)
	}
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == cookie {
			set = c.Value
		}
	}
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, cookie+"=") {
			setRaw = h
		}
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), set, setRaw
}

func id(body string) string {
	if m := idRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return "(" + body + ")"
}

type life struct {
	n                    int
	answered             time.Time // GET / answered
	ts                   uint64    // utils.Timestamp seen by the first peek
	lag                  float64   // server's time.Now() - Timestamp at the first peek
	lastAlive, firstGone time.Duration
	peeks                int
}

func lifetime(sessions int, poll time.Duration) {
	var wg sync.WaitGroup
	out := make([]life, sessions)
	start := time.Now()
	for i := range sessions {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(min(sessions, 10)))))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, body, set, _ := get("/", "")
			l := life{n: i + 1, answered: time.Now()}
			sid := id(body)
			if set != sid {
				log.Fatalf("session %d: cookie %q, page %q", i, set, sid)
			}
			for {
				time.Sleep(poll)
				_, pb, _, _ := get("/_peek", sid)
				m := peekRE.FindStringSubmatch(pb)
				if m == nil {
					log.Fatalf("/_peek answered %q (start the site with --peek)", pb)
				}
				at := time.Since(l.answered)
				l.peeks++
				if l.ts == 0 {
					l.ts, _ = strconv.ParseUint(m[3], 10, 64)
					now, _ := strconv.ParseFloat(m[4], 64)
					l.lag = now - float64(l.ts)
				}
				if m[1] == sid && m[2] == "false" {
					l.lastAlive = at
					continue
				}
				l.firstGone = at
				break
			}
			out[i] = l
		}(i)
	}
	wg.Wait()
	fmt.Printf("timeout = the cookie's Max-Age; %d sessions, looked up every %s without refreshing\n", sessions, poll)
	fmt.Printf("%-3s %-14s %-10s %-22s %-14s %-14s %s\n", "#", "answered", "Timestamp", "server now - Timestamp", "last found", "first refused", "lifetime")
	var ls []float64
	for _, l := range out {
		fmt.Printf("%-3d %-14.3f %-10d %-22.3f +%-13.3f +%-13.3f %.3fs\n", l.n, float64(l.answered.UnixNano())/1e9, l.ts, l.lag,
			l.lastAlive.Seconds(), l.firstGone.Seconds(), l.firstGone.Seconds())
		ls = append(ls, l.firstGone.Seconds())
	}
	sort.Float64s(ls)
	fmt.Printf("lifetime at the server, from the answer to the first refusal: %.3f .. %.3f s\n", ls[0], ls[len(ls)-1])
}

func expire() {
	_, b1, c1, raw1 := get("/counter", "")
	fmt.Printf("GET /counter -> %s\n      Set-Cookie: %s\n", b1, raw1)
	_, b2, c2, _ := get("/counter", c1)
	fmt.Printf("GET /counter (cookie %s) -> %s (same cookie back: %t)\n", c1, b2, c2 == c1)
	_, b3, c3, raw3 := get("/expire", c1)
	fmt.Printf("GET /expire (cookie %s) -> %s\n      Set-Cookie: %s\n", c1, b3, raw3)
	_, b4, c4, raw4 := get("/counter", c1)
	fmt.Printf("GET /counter with the cookie held before /expire, replayed -> %s\n      Set-Cookie: %s (the old id: %t)\n", b4, raw4, c4 == c1)
	if c3 != "" {
		_, b5, c5, _ := get("/counter", c3)
		fmt.Printf("GET /counter with the /expire answer's own cookie value %q -> %s (the old id: %t)\n", c3, b5, c5 == c1)
	}
}

func forged() {
	for _, v := range []string{"00000000-0000-4000-8000-000000000000", "attacker-chosen", "../../../etc/passwd", `"quoted"`} {
		_, body, set, _ := get("/", v)
		fmt.Printf("Cookie: %s=%s -> %s (cookie %s; adopted: %t)\n", cookie, v, body, set, id(body) == v)
	}
}

func burst(n int) {
	_, b, c, _ := get("/counter", "")
	start, _ := strconv.Atoi(numRE.FindString(b))
	var wg sync.WaitGroup
	counts := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, b, _, _ := get("/counter", c)
			counts[i], _ = strconv.Atoi(numRE.FindString(b))
		}(i)
	}
	wg.Wait()
	_, b, _, _ = get("/counter", c)
	end, _ := strconv.Atoi(numRE.FindString(b))
	seen := map[int]int{}
	for _, v := range counts {
		seen[v]++
	}
	dup := 0
	for _, k := range seen {
		dup += k - 1
	}
	fmt.Printf("start %d, %d concurrent increments, next visit counts %d (want %d): %d lost; %d answers repeated a count\n",
		start, n, end, start+n+1, start+n+1-end, dup)
}

func main() {
	flag.StringVar(&base, "url", "", "the site's base URL")
	sessions := flag.Int("sessions", 10, "lifetime: how many sessions, 1/10 s apart")
	poll := flag.Duration("poll", 10*time.Millisecond, "lifetime: how often each session is looked up")
	n := flag.Int("n", 50, "burst: concurrent requests")
	flag.Parse()
	if base == "" || flag.NArg() != 1 {
		log.Fatal("usage: probe --url URL lifetime|expire|forged|burst")
	}
	switch flag.Arg(0) {
	case "lifetime":
		lifetime(*sessions, *poll)
	case "expire":
		expire()
	case "forged":
		forged()
	case "burst":
		burst(*n)
	default:
		log.Fatalf("unknown probe %q", flag.Arg(0))
	}
}

// Command probe is by-hand evidence for README.md: it talks to a running
// gorilla-seedsite (main.go) over HTTP and sends cookies by hand, whatever
// their Max-Age says, as a client that replays them would.
//
//	go run ./probe --url http://127.0.0.1:PORT/ [--sessions 10] [--poll 10ms] lifetime
//	go run ./probe --url URL expire       # /expire, then the cookie held before it, replayed
//	go run ./probe --url URL --after 3.25s,10s replay   # one session's first cookie, replayed later
//	go run ./probe --url URL forged       # cookies the server never issued
//	go run ./probe --url URL decode       # what a cookie shows without the keys
//
// Flags come before the probe's name (Go's flag package stops at the first
// argument that is not a flag).
//
// The securecookie value is base64("<timestamp>|<base64 payload>|<HMAC>"):
// the timestamp (whole seconds, Unix) can be read without the keys, and the
// probe prints it.
package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	base   string
	cookie = "session-name"
	client = &http.Client{Timeout: 10 * time.Second}
	idRE   = regexp.MustCompile(`Your session id is: (\S+)`)
	numRE  = regexp.MustCompile(`\d+`)
)

// get sends path with the cookie value v ("" for none) and returns the body
// and the session cookie set, if any.
func get(path, v string) (status int, body, set string, setRaw string) {
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

func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// stamp reads the timestamp securecookie put in a value.
func stamp(v string) int64 {
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		return 0
	}
	t, _ := strconv.ParseInt(strings.SplitN(string(b), "|", 2)[0], 10, 64)
	return t
}

func secs(t time.Time) string { return fmt.Sprintf("%d.%03d", t.Unix()%1000, t.Nanosecond()/1e6) }

func lifetime(n int, poll time.Duration, timeout int) {
	fmt.Printf("timeout %d s, %d sessions, poll %s; the first cookie of each session replayed by hand until refused\n", timeout, n, poll)
	fmt.Printf("%-3s %-9s %-11s %-24s %-24s %s\n", "#", "answered", "stamp", "last accepted", "first refused", "lifetime (from the answer)")
	var lo, hi time.Duration
	for i := range n {
		_, body, v, _ := get("/", "")
		answered := time.Now()
		first := id(body)
		ts := stamp(v)
		edge := time.Unix(ts+int64(timeout)+1, 0) // securecookie refuses t1 < now - maxAge
		var last time.Time
		for {
			time.Sleep(poll)
			sent := time.Now()
			_, b, _, _ := get("/", v)
			if id(b) != first {
				life := sent.Sub(answered)
				fmt.Printf("%-3d %-9s %-11d +%.3fs (%+.3f)        +%.3fs (%+.3f)        %.3fs (T %+.3f)\n", i+1, secs(answered), ts,
					last.Sub(answered).Seconds(), last.Sub(edge).Seconds(), life.Seconds(), sent.Sub(edge).Seconds(),
					life.Seconds(), life.Seconds()-float64(timeout))
				if i == 0 || life < lo {
					lo = life
				}
				if life > hi {
					hi = life
				}
				break
			}
			last = sent
		}
		time.Sleep(time.Duration(137*(i+1)%1000) * time.Millisecond) // another phase of the second
	}
	fmt.Printf("brackets: relative to stamp + T + 1 s, the first whole second securecookie refuses\n")
	fmt.Printf("lifetime of a cookie at the server, from its answer to its first refusal: %.3f .. %.3f s (timeout %d s)\n", lo.Seconds(), hi.Seconds(), timeout)
}

func expire() {
	t0 := time.Now()
	at := func() string { return fmt.Sprintf("[+%.3fs]", time.Since(t0).Seconds()) }
	_, b, v, raw := get("/", "")
	fmt.Printf("%s GET / -> %s\n      Set-Cookie: %s\n", at(), b, raw)
	old := id(b)
	_, b, v1, _ := get("/counter", v)
	fmt.Printf("%s GET /counter -> %s\n", at(), b)
	_, b, v2, _ := get("/counter", v1)
	fmt.Printf("%s GET /counter -> %s (this cookie is the one held before /expire)\n", at(), b)
	_, b, ve, raw := get("/expire", v2)
	fmt.Printf("%s GET /expire -> %s\n      Set-Cookie: %s\n", at(), b, raw)
	if ve != "" {
		_, b, _, _ = get("/counter", ve)
		fmt.Printf("%s GET /counter with the /expire answer's own cookie value, replayed -> %s\n", at(), b)
	}
	_, b, _, raw = get("/", v2)
	same := "a NEW id"
	if id(b) == old {
		same = "the OLD id"
	}
	fmt.Printf("%s GET / with the cookie held before /expire, replayed -> %s (%s)\n      Set-Cookie: %s\n", at(), b, same, raw)
	_, b, _, _ = get("/counter", v2)
	fmt.Printf("%s GET /counter with the same cookie, replayed -> %s\n", at(), b)
	_, b, _, _ = get("/counter", v2)
	fmt.Printf("%s GET /counter with the same cookie, replayed again -> %s\n", at(), b)
}

func replay(after []time.Duration) {
	_, b, v, raw := get("/counter", "")
	t0 := time.Now()
	fmt.Printf("[+0.000s] GET /counter -> %s\n      Set-Cookie: %s\n", b, raw)
	_, b, _, _ = get("/", v)
	first := id(b)
	fmt.Printf("[+%.3fs] GET / -> %s\n", time.Since(t0).Seconds(), b)
	for _, d := range after {
		time.Sleep(time.Until(t0.Add(d)))
		_, b, _, _ := get("/", v)
		_, c, _, _ := get("/counter", v)
		what := "refused: a new session"
		if id(b) == first {
			what = "ACCEPTED: the same session"
		}
		fmt.Printf("[+%.3fs] the first cookie, replayed: / -> %s; /counter -> %s (%s)\n", time.Since(t0).Seconds(), id(b), c, what)
	}
}

func forged() {
	_, orig, v, _ := get("/", "")
	fmt.Printf("GET / -> %s\n", orig)
	raw, _ := base64.URLEncoding.DecodeString(v)
	parts := strings.SplitN(string(raw), "|", 3)
	cases := []struct{ what, v string }{
		{"one character of the MAC changed", v[:len(v)-6] + map[bool]string{true: "A", false: "B"}[v[len(v)-6] != 'A'] + v[len(v)-5:]},
		{"the timestamp moved 10 s ahead, MAC kept", base64.URLEncoding.EncodeToString([]byte(fmt.Sprint(stamp(v)+10) + "|" + parts[1] + "|" + parts[2]))},
		{"../../../etc/passwd", "../../../etc/passwd"},
		{"5000 bytes", strings.Repeat("A", 5000)},
	}
	for _, c := range cases {
		st, b, _, raw := get("/", c.v)
		fmt.Printf("%s: %d, id %s (the real one: %s); Set-Cookie: %s\n", c.what, st, short(id(b)), short(id(orig)), short(raw))
	}
}

func decode() {
	_, b, v, raw := get("/counter", "")
	fmt.Printf("GET /counter -> %s\nSet-Cookie: %s\n", b, raw)
	dec, _ := base64.URLEncoding.DecodeString(v)
	parts := strings.SplitN(string(dec), "|", 3)
	fmt.Printf("cookie value: %d bytes; base64-decoded: %q | %d bytes of base64 payload | %d bytes of HMAC-SHA256\n",
		len(v), parts[0], len(parts[1]), len(parts[2]))
	if p, err := base64.URLEncoding.DecodeString(parts[1]); err == nil {
		fmt.Printf("payload (%d bytes): %q\n", len(p), p)
	}
}

func main() {
	flag.StringVar(&base, "url", "", "the adapter's URL")
	flag.StringVar(&cookie, "cookie", cookie, "the session cookie's name")
	n := flag.Int("sessions", 10, "lifetime: sessions to measure")
	poll := flag.Duration("poll", 10*time.Millisecond, "lifetime: replay every")
	timeout := flag.Int("timeout", 2, "the adapter's --timeout, seconds")
	afterS := flag.String("after", "1.75s,2.25s,2.75s,3.25s", "replay: when, after the first visit")
	flag.Parse()
	if base == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: probe --url URL lifetime|expire|replay|forged|decode")
		os.Exit(2)
	}
	switch flag.Arg(0) {
	case "lifetime":
		lifetime(*n, *poll, *timeout)
	case "expire":
		expire()
	case "replay":
		var after []time.Duration
		for _, s := range strings.Split(*afterS, ",") {
			d, err := time.ParseDuration(s)
			if err != nil {
				log.Fatal(err)
			}
			after = append(after, d)
		}
		replay(after)
	case "forged":
		forged()
	case "decode":
		decode()
	default:
		log.Fatalf("unknown probe %q", flag.Arg(0))
	}
}

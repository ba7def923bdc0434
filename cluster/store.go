package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix begins every key a site keeps in Redis, unless
// Config.Prefix says otherwise.
const DefaultPrefix = "sessionspec:"

// NewClient connects to the Redis a URL names, redis://[user:pass@]HOST:PORT/DB
// or unix:///path/to/redis.sock?db=N (go-redis's ParseURL), with the
// options this package relies on: no retries (a script whose reply was
// lost must not run twice: a counter would count twice) and short
// timeouts, so that a request fails in seconds when Redis is away.
func NewClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--store %q: %v", url, err)
	}
	opt.MaxRetries = -1
	opt.DialTimeout = 2 * time.Second
	opt.DialerRetries = 1 // a refused connection is a 503 at once
	opt.ReadTimeout = 5 * time.Second
	opt.WriteTimeout = 5 * time.Second
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// validName is what a replica's name and a key prefix may be made of.
var (
	validName   = regexp.MustCompile(`^[A-Za-z0-9._:\-\[\]]{1,64}$`)
	validPrefix = regexp.MustCompile(`^[A-Za-z0-9._:{}\-]{0,64}$`)
)

// store is one replica's view of a site's keys in Redis.
type store struct {
	rdb     redis.Scripter
	prefix  string
	replica string
	limit   string // the feed's bound, as an argument
}

// stamp is a time as the scripts take it: Unix milliseconds, and the
// nanoseconds past that millisecond.
func stamp(t time.Time) (ms, ns string) {
	return strconv.FormatInt(t.UnixMilli(), 10), strconv.Itoa(t.Nanosecond() % 1e6)
}

func fromStamp(ms, ns int64) time.Time { return time.UnixMilli(ms).Add(time.Duration(ns)).UTC() }

// args are the arguments every script begins with.
func (s *store) args(now time.Time, more ...any) []any {
	ms, ns := stamp(now)
	return append([]any{s.prefix, s.replica, s.limit, ms, ns}, more...)
}

// result is what visitScript and createScript answer.
type result struct {
	status string // "ok", "miss", "taken", "unset", "full"
	value  string
	fired  []string // logged sessions this step ended
}

func (s *store) run(ctx context.Context, script *redis.Script, now time.Time, more ...any) (result, error) {
	v, err := script.Run(ctx, s.rdb, nil, s.args(now, more...)...).Slice()
	if err != nil {
		return result{}, err
	}
	if len(v) != 3 {
		return result{}, fmt.Errorf("script answered %d values, want 3", len(v))
	}
	r := result{status: asString(v[0]), value: asString(v[1])}
	r.fired = asStrings(v[2])
	return r, nil
}

// sweep runs sweepScript until nothing more is due at now.
func (s *store) sweep(ctx context.Context, now time.Time, batch int, each func(fired []string)) (int, error) {
	ended, skip := 0, int64(0)
	for {
		if err := ctx.Err(); err != nil {
			return ended, err
		}
		v, err := sweepScript.Run(ctx, s.rdb, nil, s.args(now, batch, skip)...).Slice()
		if err != nil {
			return ended, err
		}
		if len(v) != 4 {
			return ended, fmt.Errorf("sweep script answered %d values, want 4", len(v))
		}
		more, n, skipped := asInt(v[0]), asInt(v[1]), asInt(v[2])
		ended += int(n)
		skip += skipped
		if f := asStrings(v[3]); len(f) > 0 {
			each(f)
		}
		if more == 0 {
			return ended, nil
		}
	}
}

// highWater records now as the cluster's virtual time if it is later and
// returns the cluster's.
func (s *store) highWater(ctx context.Context, now time.Time) (time.Time, error) {
	v, err := clockScript.Run(ctx, s.rdb, nil, s.args(now)...).Slice()
	if err != nil {
		return time.Time{}, err
	}
	if len(v) != 2 {
		return time.Time{}, fmt.Errorf("clock script answered %d values", len(v))
	}
	ms, err1 := strconv.ParseInt(asString(v[0]), 10, 64)
	ns, err2 := strconv.ParseInt(asString(v[1]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return time.Time{}, fmt.Errorf("the cluster's clock in Redis is not a time: %v", err)
	}
	return fromStamp(ms, ns), nil
}

// join checks the site's settings in Redis against this replica's.
func (s *store) join(ctx context.Context, now time.Time, fake bool, timeout time.Duration, max int) error {
	clock := "real"
	if fake {
		clock = "fake"
	}
	v, err := joinScript.Run(ctx, s.rdb, nil, s.args(now, clock, int64(timeout), max)...).Slice()
	if err != nil {
		return err
	}
	if len(v) == 3 {
		t, _ := strconv.ParseInt(asString(v[1]), 10, 64)
		return fmt.Errorf("the site under prefix %q runs live sessions on the %s clock with timeout %s and cap %s; this replica has the %s clock, timeout %s, cap %d: give the replicas the same settings, or another --store-prefix",
			s.prefix, asString(v[0]), time.Duration(t), asString(v[2]), clock, timeout, max)
	}
	return nil
}

// feedPage is a part of a replica's feed.
type feedPage struct {
	dropped, next, from int64
	lines               []string
}

func (s *store) feed(ctx context.Context, from int64, n int) (feedPage, error) {
	v, err := feedScript.Run(ctx, s.rdb, nil, s.args(time.Time{}, from, n)...).Slice()
	if err != nil {
		return feedPage{}, err
	}
	if len(v) != 4 {
		return feedPage{}, fmt.Errorf("feed script answered %d values", len(v))
	}
	return feedPage{dropped: asInt(v[0]), next: asInt(v[1]), from: asInt(v[2]), lines: asStrings(v[3])}, nil
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func asStrings(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, asString(x))
	}
	return out
}

// Keys of a site under a prefix, for tools and tests that read Redis
// directly.

// FeedKey is the list of the notifications replica fired, oldest first,
// one uid per entry; FiredKey counts them per uid (a hash).
func FeedKey(prefix, replica string) string  { return prefix + "feed:" + replica }
func FiredKey(prefix, replica string) string { return prefix + "fired:" + replica }

// ReplicasKey is the set of the names of the replicas that have joined
// the site.
func ReplicasKey(prefix string) string { return prefix + "replicas" }

// DeadlinesKey is the sorted set of the live sessions by deadline.
func DeadlinesKey(prefix string) string { return prefix + "deadlines" }

// Feeds returns every replica's feed, as kept in Redis (a replica that
// died still has its own), by replica name: what tests count to see that
// each notification fired exactly once cluster-wide. Each feed is read
// whole; a feed that has dropped lines past its bound lacks them.
func Feeds(ctx context.Context, rdb redis.Cmdable, prefix string) (map[string][]string, error) {
	names, err := rdb.SMembers(ctx, ReplicasKey(prefix)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(names))
	for _, name := range names {
		lines, err := rdb.LRange(ctx, FeedKey(prefix, name), 0, -1).Result()
		if err != nil {
			return nil, err
		}
		out[name] = lines
	}
	return out, nil
}

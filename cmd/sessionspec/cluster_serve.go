package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessionspec/sessionspec/cluster"
	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
)

// clusterFlags are serve's flags for the reference as a replica of a
// site kept in Redis (package cluster).
type clusterFlags struct {
	store       string
	prefix      string
	replicaName string
	replicas    replicaList
	sweepBatch  int
}

type replicaList []string

func (l *replicaList) String() string { return strings.Join(*l, ",") }
func (l *replicaList) Set(v string) error {
	u, err := contract.ParseReplica(v)
	if err != nil {
		return err
	}
	*l = append(*l, u.String())
	return nil
}

func (f *clusterFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "", "keep the sessions in Redis (`URL`: redis://HOST:PORT/DB or unix:///path.sock?db=N), so that several serve processes are replicas of one site")
	fs.StringVar(&f.prefix, "store-prefix", cluster.DefaultPrefix, "with --store: the `prefix` of the site's keys, so several sites can share one database")
	fs.StringVar(&f.replicaName, "replica-name", "", "with --store: this replica's `name`, under which its fired notifications are kept (default: the listen address)")
	fs.Var(&f.replicas, "replica", "with --store: another replica's base `URL`, announced in the discovery document (repeat for each)")
	fs.IntVar(&f.sweepBatch, "sweep-batch", cluster.DefaultSweepBatch, "with --store: sessions one sweep script ends at most (`n`)")
}

func (f *clusterFlags) check(fault string) error {
	if f.store == "" {
		if f.replicaName != "" || len(f.replicas) > 0 || f.prefix != cluster.DefaultPrefix || f.sweepBatch != cluster.DefaultSweepBatch {
			return errors.New("--store-prefix, --replica-name, --replica and --sweep-batch go with --store")
		}
		return nil
	}
	if fault != "" {
		return errors.New("--fault serves an in-memory fault; it does not go with --store")
	}
	rdb, err := cluster.NewClient(f.store) // the URL is checked; nothing is dialled yet
	if err != nil {
		return err
	}
	return rdb.Close()
}

// lateHandler serves 503 until the replica is ready: the replica's name
// defaults to the address it listens on, known only once it listens.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// startCluster serves the reference as a replica of the site in Redis.
func startCluster(c serveConfig, log io.Writer) (*runningServer, error) {
	rdb, err := cluster.NewClient(c.cluster.store)
	if err != nil {
		return nil, err
	}
	late := &lateHandler{}
	rs, err := listenAndServe(c, late)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	u, _ := url.Parse(rs.URL)
	name := c.cluster.replicaName
	if name == "" {
		name = u.Host
	}
	var clock fakeclock.Clock
	if c.fakeClock {
		clock = fakeclock.NewFake(cluster.FakeEpoch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cluster.RequestBound)
	defer cancel()
	srv, err := cluster.New(ctx, cluster.Config{
		Redis:       rdb,
		Prefix:      c.cluster.prefix,
		Replica:     name,
		Timeout:     c.timeout,
		Clock:       clock,
		MaxSessions: c.maxSessions,
		SweepBatch:  c.cluster.sweepBatch,
		Replicas:    c.cluster.replicas,
		Log:         log,
	})
	if err != nil {
		rs.shutdown(time.Second)
		rdb.Close()
		return nil, err
	}
	var h http.Handler = srv
	late.h.Store(&h)
	rs.note = fmt.Sprintf("replica %s of the site in %s (prefix %q)", name, redactURL(c.cluster.store), c.cluster.prefix)
	rs.onClose = func() {
		srv.Close()
		rdb.Close()
	}
	return rs, nil
}

// redactURL hides a password in a store URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the store"
	}
	return u.Redacted()
}

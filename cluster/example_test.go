package cluster_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/sessionspec/sessionspec/cluster"
	"github.com/sessionspec/sessionspec/fakeclock"
)

// Three replicas of one site on one Redis, each on its own port and its
// own fake clock (the suite advances all three: sessionspec check
// http://127.0.0.1:8081/ --replica http://127.0.0.1:8082/ --replica
// http://127.0.0.1:8083/).
func ExampleNew() {
	rdb, err := cluster.NewClient("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer rdb.Close()
	for i, addr := range []string{"127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"} {
		srv, err := cluster.New(context.Background(), cluster.Config{
			Redis:   rdb,
			Replica: []string{"a", "b", "c"}[i],
			Timeout: 5 * time.Second,
			Clock:   fakeclock.NewFake(cluster.FakeEpoch),
		})
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Close()
		go http.ListenAndServe(addr, srv)
	}
	select {}
}

package main

import (
	"context"
	"errors"
	"os"

	"github.com/sessionspec/sessionspec/internal/peer"
	"github.com/sessionspec/sessionspec/internal/redistest"
)

// The services a peer's manifest may ask for (services: [...]), started
// by check --target before the peer's replicas and stopped after them.
func init() {
	peer.RegisterService("redis", startRedis)
}

// redisService is Debian's redis-server on a free loopback port, with no
// persistence, in a throw-away directory removed when it stops.
type redisService struct {
	srv *redistest.Server
	dir string
}

func startRedis(ctx context.Context) (peer.Service, error) {
	dir, err := os.MkdirTemp("", "sessionspec-redis-")
	if err != nil {
		return nil, err
	}
	srv, err := redistest.Start(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &redisService{srv: srv, dir: dir}, nil
}

func (r *redisService) URL() string { return r.srv.URL }

func (r *redisService) Stop() error {
	return errors.Join(r.srv.Stop(), os.RemoveAll(r.dir))
}

package peer

import (
	"context"
	"fmt"
	"sync"
)

// A Service is something a peer needs running beside it (services:
// ["redis"]), started before the peer's replicas and stopped after them.
type Service interface {
	// URL is what the placeholder of the same name stands for, e.g.
	// redis://127.0.0.1:PORT/0 for {redis}.
	URL() string
	// Stop ends it, within a bounded time.
	Stop() error
}

// A ServiceStarter starts a fresh, throw-away instance of a service on a
// free loopback port.
type ServiceStarter func(ctx context.Context) (Service, error)

var (
	serviceMu sync.Mutex
	starters  = map[string]ServiceStarter{}
)

// RegisterService makes a service of Services startable; the package that
// can start it registers it (see cmd/sessionspec).
func RegisterService(name string, start ServiceStarter) {
	serviceMu.Lock()
	defer serviceMu.Unlock()
	starters[name] = start
}

// StartService starts the named service.
func StartService(ctx context.Context, name string) (Service, error) {
	serviceMu.Lock()
	start := starters[name]
	serviceMu.Unlock()
	if start == nil {
		return nil, fmt.Errorf("service %q: this build of sessionspec cannot start it", name)
	}
	s, err := start(ctx)
	if err != nil {
		return nil, fmt.Errorf("service %s: %v", name, err)
	}
	return s, nil
}

package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	benbjohnson "github.com/benbjohnson/clock"
	"github.com/coder/quartz"
	"github.com/jonboulle/clockwork"
	k8stesting "k8s.io/utils/clock/testing"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// A clockUnderTest holds n timers, each calling the same callback, and
// is driven the way session code drives a clock: schedule, reset to a
// later time (a touch), and let time pass so that all of them fire.
type clockUnderTest interface {
	// schedule makes timer i, due d from now.
	schedule(i int, d time.Duration)
	// reset moves timer i to d from now.
	reset(i int, d time.Duration)
	// fireAll moves time on by d, past every deadline. The callbacks may
	// run asynchronously; the harness counts them.
	fireAll(d time.Duration)
}

type clockInfo struct {
	Name    string
	Module  string // import path and version, for the report
	Notes   string // how it fires, what its structure is
	make    func(n int, f func()) clockUnderTest
	runtime bool // the real runtime timers: fireAll is special
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var clocks = []clockInfo{
	{Name: "fakeclock", Module: "github.com/sessionspec/sessionspec/fakeclock",
		Notes: "4-ary heap, lazy reset to a later time; callbacks run synchronously in Advance",
		make: func(n int, f func()) clockUnderTest {
			return &ourFake{c: fakeclock.NewFake(epoch), ts: make([]fakeclock.Timer, n), f: f}
		}},
	{Name: "runtime", Module: "time.AfterFunc (Go runtime timers)",
		Notes: "per-P timer heaps; fire: all reset to one instant t0, timed from t0 until the last callback ran",
		make: func(n int, f func()) clockUnderTest {
			return &runtimeTimers{ts: make([]*time.Timer, n), f: f}
		}, runtime: true},
	{Name: "k8s FakeClock", Module: "k8s.io/utils/clock/testing",
		Notes: "unsorted slice of waiters: Reset and Stop scan it; Step visits every waiter once and runs the due callbacks in the order they were scheduled, not in deadline order, under its lock (a callback that calls the clock deadlocks)",
		make: func(n int, f func()) clockUnderTest {
			return &k8sFake{c: k8stesting.NewFakeClock(epoch), ts: make([]interface{ Reset(time.Duration) bool }, n), f: f}
		}},
	{Name: "clockwork", Module: "github.com/jonboulle/clockwork",
		Notes: "slice re-sorted on every schedule and reset; AfterFunc callbacks run in new goroutines",
		make: func(n int, f func()) clockUnderTest {
			return &clockworkFake{c: clockwork.NewFakeClockAt(epoch), ts: make([]clockwork.Timer, n), f: f}
		}},
	{Name: "quartz", Module: "github.com/coder/quartz",
		Notes: "slice scanned for the next event on every change; Advance may only reach the next event, so firing is one AdvanceNext per deadline; callbacks in goroutines",
		make: func(n int, f func()) clockUnderTest {
			m := quartz.NewMock(&quietT{})
			m.WithLogger(quartz.NoOpLogger)
			return &quartzMock{m: m, ts: make([]*quartz.Timer, n), f: f}
		}},
	{Name: "benbjohnson/clock", Module: "github.com/benbjohnson/clock (archived)",
		Notes: "unsorted slice, sorted again for every timer that fires, and a 1 ms sleep after each (its gosched); AfterFunc callbacks in goroutines",
		make: func(n int, f func()) clockUnderTest {
			m := benbjohnson.NewMock()
			m.Set(epoch)
			return &benMock{m: m, ts: make([]*benbjohnson.Timer, n), f: f}
		}},
}

func clockByName(name string) (clockInfo, bool) {
	for _, c := range clocks {
		if c.Name == name {
			return c, true
		}
	}
	return clockInfo{}, false
}

type ourFake struct {
	c  *fakeclock.Fake
	ts []fakeclock.Timer
	f  func()
}

func (o *ourFake) schedule(i int, d time.Duration) { o.ts[i] = o.c.AfterFunc(d, o.f) }
func (o *ourFake) reset(i int, d time.Duration)    { o.ts[i].Reset(d) }
func (o *ourFake) fireAll(d time.Duration)         { o.c.Advance(d) }

type runtimeTimers struct {
	ts []*time.Timer
	f  func()
}

func (o *runtimeTimers) schedule(i int, d time.Duration) { o.ts[i] = time.AfterFunc(d, o.f) }
func (o *runtimeTimers) reset(i int, d time.Duration)    { o.ts[i].Reset(d) }
func (o *runtimeTimers) fireAll(d time.Duration)         { panic("runtime timers fire on their own") }

type k8sFake struct {
	c  *k8stesting.FakeClock
	ts []interface{ Reset(time.Duration) bool }
	f  func()
}

func (o *k8sFake) schedule(i int, d time.Duration) { o.ts[i] = o.c.AfterFunc(d, o.f) }
func (o *k8sFake) reset(i int, d time.Duration)    { o.ts[i].Reset(d) }
func (o *k8sFake) fireAll(d time.Duration)         { o.c.Step(d) }

type clockworkFake struct {
	c  *clockwork.FakeClock
	ts []clockwork.Timer
	f  func()
}

func (o *clockworkFake) schedule(i int, d time.Duration) { o.ts[i] = o.c.AfterFunc(d, o.f) }
func (o *clockworkFake) reset(i int, d time.Duration)    { o.ts[i].Reset(d) }
func (o *clockworkFake) fireAll(d time.Duration)         { o.c.Advance(d) }

type quartzMock struct {
	m  *quartz.Mock
	ts []*quartz.Timer
	f  func()
}

func (o *quartzMock) schedule(i int, d time.Duration) { o.ts[i] = o.m.AfterFunc(d, o.f) }
func (o *quartzMock) reset(i int, d time.Duration)    { o.ts[i].Reset(d) }

// fireAll steps from event to event, as quartz requires, until no event
// is left before the end.
func (o *quartzMock) fireAll(d time.Duration) {
	end := o.m.Now().Add(d)
	for {
		next, ok := o.m.Peek()
		if !ok || o.m.Now().Add(next).After(end) {
			break
		}
		_, w := o.m.AdvanceNext()
		w.MustWait(context.Background())
	}
}

type benMock struct {
	m  *benbjohnson.Mock
	ts []*benbjohnson.Timer
	f  func()
}

func (o *benMock) schedule(i int, d time.Duration) { o.ts[i] = o.m.AfterFunc(d, o.f) }
func (o *benMock) reset(i int, d time.Duration)    { o.ts[i].Reset(d) }
func (o *benMock) fireAll(d time.Duration)         { o.m.Add(d) }

// quietT is the testing.TB quartz wants, outside a test: failures panic.
type quietT struct{ cleanups []func() }

func (*quietT) Helper()                        {}
func (*quietT) Log(...any)                     {}
func (*quietT) Logf(string, ...any)            {}
func (*quietT) Error(args ...any)              { panic(fmt.Sprint(args...)) }
func (*quietT) Errorf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (*quietT) Fatal(args ...any)              { panic(fmt.Sprint(args...)) }
func (*quietT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (t *quietT) Cleanup(f func())             { t.cleanups = append(t.cleanups, f) }

// counter is the callback every timer shares.
type counter struct{ n atomic.Int64 }

func (c *counter) inc() { c.n.Add(1) }

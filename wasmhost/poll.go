package wasmhost

import (
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/tetratelabs/wazero/api"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// The WASI preview 1 ABI of poll_oneoff, as in
// https://github.com/WebAssembly/WASI/blob/snapshot-01/phases/snapshot/docs.md#-poll_oneoffin-constpointersubscription-out-pointerevent-nsubscriptions-size---errno-size
//
//	subscription (48 bytes): userdata u64 @0, tag u8 @8, then @16 either
//	  clock: id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40
//	  fd_read / fd_write: fd u32 @16
//	event (32 bytes): userdata u64 @0, error u16 @8, type u8 @10,
//	  fd_readwrite: nbytes u64 @16, flags u16 @24
const (
	subscriptionSize = 48
	eventSize        = 32

	eventtypeClock   = 0
	eventtypeFdRead  = 1
	eventtypeFdWrite = 2

	clockRealtime   = 0
	subclockAbstime = 1

	eventFdReadwriteHangup = 1

	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
)

// shortWait is the longest clock-only wait that also ends on the real
// clock (see the package documentation).
const shortWait = time.Millisecond

var le = binary.LittleEndian

type subscription struct {
	userdata uint64
	typ      uint8
	deadline int64 // clock: when it is due, in virtual monotonic nanoseconds
	file     guestFile
	pollIdx  int // fd on the OS: its index in pfds
}

func (h *Host) pollOneoff(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = uint64(h.poll(ctx, mod, uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])))
}

// poll is poll_oneoff. It returns when at least one subscription is
// ready, having written the events of all that are; until then the guest
// is blocked in it, and idle.
func (h *Host) poll(ctx context.Context, mod api.Module, in, out, n, resultNevents uint32) uint32 {
	h.stats.polls.Add(1)
	if n == 0 {
		return errnoInval
	}
	mem := mod.Memory()
	inBuf, ok := mem.Read(in, n*subscriptionSize)
	if !ok {
		return errnoFault
	}
	outBuf, ok := mem.Read(out, n*eventSize)
	if !ok {
		return errnoFault
	}

	// The clock does not move while the guest runs, so a relative
	// timeout is exact against the time of the call.
	now := h.monotonic()
	subs, pfds := h.subs[:0], h.pfds[:0]
	deadline, hasDL, clockOnly := int64(math.MaxInt64), false, true
	for i := range n {
		b := inBuf[i*subscriptionSize : (i+1)*subscriptionSize]
		s := subscription{userdata: le.Uint64(b[0:]), typ: b[8], pollIdx: -1}
		switch s.typ {
		case eventtypeClock:
			id, timeout, flags := le.Uint32(b[16:]), le.Uint64(b[24:]), le.Uint16(b[40:])
			switch flags {
			case 0:
				s.deadline = addSat(now, timeout)
			case subclockAbstime:
				s.deadline = int64(min(timeout, math.MaxInt64))
				if id == clockRealtime { // a wall-clock instant: convert
					sec, nsec := h.walltime()
					if rel := s.deadline - (sec*1e9 + int64(nsec)); rel > 0 {
						s.deadline = addSat(now, uint64(rel))
					} else {
						s.deadline = now
					}
				}
			default:
				return errnoInval
			}
			hasDL, deadline = true, min(deadline, s.deadline)
		case eventtypeFdRead, eventtypeFdWrite:
			clockOnly = false
			s.file = h.fds.resolve(int32(le.Uint32(b[16:])))
			if s.file.kind == fileOS {
				ev := int16(pollIn)
				if s.typ == eventtypeFdWrite {
					ev = pollOut
				}
				s.pollIdx = len(pfds)
				pfds = append(pfds, pollFd{fd: int32(s.file.osfd), events: ev})
			}
		default:
			return errnoInval
		}
		subs = append(subs, s)
	}
	nfds := len(pfds)
	pfds = append(pfds, pollFd{fd: h.waker.fd(), events: pollIn})
	h.subs, h.pfds = subs, pfds

	realDue := false // a short clock-only wait has ended on the real clock
	for {
		h.waker.drain()
		if nfds > 0 {
			for i := range pfds[:nfds] {
				pfds[i].revents = 0
			}
			ppoll(pfds[:nfds], 0)
		}

		h.mu.Lock()
		if h.closing {
			h.mu.Unlock()
			mod.CloseWithExitCode(ctx, 0)
			panic(wazerosys.NewExitError(0))
		}
		// Read under the lock: once an advance has let the guest out, the
		// clock is seen at the guest's deadline.
		now = h.monotonic()
		ready := 0
		for i := range subs {
			if h.isReady(&subs[i], pfds, now, realDue) {
				ready++
			}
		}
		// A running guest may always go on; an idle one only when no
		// advance is under way, or when the advance lets it.
		if ready > 0 && (!h.idle || !h.advancing || h.permit) {
			h.idle, h.permit = false, false
			h.notifyLocked()
			h.mu.Unlock()
			k := uint32(0)
			for i := range subs {
				if h.isReady(&subs[i], pfds, now, realDue) {
					writeEvent(outBuf[k*eventSize:(k+1)*eventSize], &subs[i], pfds)
					k++
				}
			}
			if !mem.WriteUint32Le(resultNevents, k) {
				return errnoFault
			}
			return errnoSuccess
		}

		// Nothing the guest may act on: it is idle. Its deadline is
		// absolute, computed when it called, while the clock stood still.
		if !h.idle {
			h.stats.waits.Add(1)
			if waitsToWrite(subs) {
				h.stats.writeWaits.Add(1)
			}
		}
		h.idle, h.permit = true, false
		h.hasDL, h.deadline = hasDL, deadline
		advancing := h.advancing
		h.notifyLocked()
		h.mu.Unlock()

		wait, timeout := pfds, time.Duration(-1)
		if advancing {
			wait = pfds[nfds:] // only the advance may wake it
		} else if clockOnly && hasDL && deadline-now <= int64(shortWait) {
			timeout = time.Duration(deadline - now)
		}
		nready, err := ppoll(wait, timeout)
		if err != nil {
			// Cannot wait (a descriptor is bad): report what is there
			// rather than spin.
			time.Sleep(time.Millisecond)
		}
		h.stats.wakeups.Add(1)
		if nready == 0 && timeout >= 0 {
			realDue = true
		}
	}
}

// waitsToWrite reports whether a wait is for a socket to become writable.
func waitsToWrite(subs []subscription) bool {
	for i := range subs {
		if subs[i].typ == eventtypeFdWrite && subs[i].file.kind == fileOS {
			return true
		}
	}
	return false
}

// isReady reports whether s has an event to report.
func (h *Host) isReady(s *subscription, pfds []pollFd, now int64, realDue bool) bool {
	switch s.typ {
	case eventtypeClock:
		return now >= s.deadline || realDue
	}
	switch s.file.kind {
	case fileBad, fileReadyNow:
		return true
	}
	want := int16(pollIn)
	if s.typ == eventtypeFdWrite {
		want = pollOut
	}
	return pfds[s.pollIdx].revents&(want|pollErr|pollHup|pollNval) != 0
}

func writeEvent(b []byte, s *subscription, pfds []pollFd) {
	clear(b)
	le.PutUint64(b[0:], s.userdata)
	b[10] = s.typ
	if s.typ == eventtypeClock {
		return
	}
	switch s.file.kind {
	case fileBad:
		le.PutUint16(b[8:], errnoBadf)
	case fileOS:
		rev := pfds[s.pollIdx].revents
		if rev&pollNval != 0 {
			le.PutUint16(b[8:], errnoBadf)
		}
		if rev&(pollHup|pollErr) != 0 {
			le.PutUint16(b[24:], eventFdReadwriteHangup)
		}
	}
}

// addSat returns now+d, saturating at the largest time.
func addSat(now int64, d uint64) int64 {
	if d > uint64(math.MaxInt64-now) {
		return math.MaxInt64
	}
	return now + int64(d)
}

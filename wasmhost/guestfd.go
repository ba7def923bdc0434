package wasmhost

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"syscall"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
)

// A guest's file descriptors are entries in wazero's per-module file
// table, which wazero does not expose: its own WASI functions reach it
// through internal packages. poll_oneoff needs it to wait for a guest
// socket to become readable or writable for real, so this file reaches it
// by reflection, through the exported names that wazero's own
// wasi_snapshot_preview1 package uses (see
// imports/wasi_snapshot_preview1/poll.go in wazero v1.12.0):
//
//	mod.(*wasm.ModuleInstance).Sys.FS().LookupFile(fd) -> (*sys.FileEntry, ok)
//	entry.File                                         -> the open file
//
// The files of sockets (wazero's internal/sysfs tcpListenerFile and
// tcpConnFile) wrap a *net.TCPListener or *net.TCPConn; the host reads the
// operating system's descriptor from it with SyscallConn().Control and
// waits on that with poll(2). Field names are not relied on: the first
// field whose type implements syscall.Conn is taken.
//
// If a later wazero changes this shape, resolve reports an error that
// says so, and Start fails on it (it resolves the preopened listener
// before the guest runs), rather than the guest spinning or hanging.

// fileKind says how poll_oneoff treats a subscription's descriptor.
type fileKind int

const (
	fileBad      fileKind = iota // not open: the event carries EBADF
	fileOS                       // a socket: wait on its OS descriptor
	fileReadyNow                 // anything else (stdio, regular files): always ready, as wazero does
)

// guestFile is what a guest descriptor resolves to.
type guestFile struct {
	kind     fileKind
	osfd     int
	listener *net.TCPListener // set for a listening socket
	conn     *net.TCPConn     // set for a connection
}

// fdTable resolves guest descriptors of one module instance. It is used
// only from the goroutine that runs the guest, so it needs no lock.
type fdTable struct {
	lookup reflect.Value // the bound method FSContext.LookupFile
	args   [1]reflect.Value
	// cache remembers, per guest descriptor, the file it resolved to last
	// time, keyed by the identity of wazero's file object, so that a
	// descriptor number reused after a close is resolved afresh.
	cache map[int32]cachedFile
	// connField caches, per concrete file type, the index of its
	// syscall.Conn field, or -1 if it has none.
	connField map[reflect.Type]int
}

type cachedFile struct {
	id   unsafe.Pointer // wazero's file object
	file guestFile
}

var (
	errWazeroShape  = errors.New("wasmhost: wazero's module internals are not what this host expects (it is written against wazero v1.12.0): cannot reach the guest's file table")
	syscallConnType = reflect.TypeFor[syscall.Conn]()
	int32Type       = reflect.TypeFor[int32]()
	boolType        = reflect.TypeFor[bool]()
)

// newFDTable finds the file table of mod.
func newFDTable(mod api.Module) (*fdTable, error) {
	v := reflect.ValueOf(mod)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, errWazeroShape
	}
	sys := v.Elem().FieldByName("Sys")
	if !sys.IsValid() || sys.Kind() != reflect.Pointer || sys.IsNil() {
		return nil, errWazeroShape
	}
	fsMethod := sys.MethodByName("FS")
	if !fsMethod.IsValid() || fsMethod.Type().NumIn() != 0 || fsMethod.Type().NumOut() != 1 {
		return nil, errWazeroShape
	}
	fsc := fsMethod.Call(nil)[0]
	lookup := fsc.MethodByName("LookupFile")
	if !lookup.IsValid() {
		return nil, errWazeroShape
	}
	lt := lookup.Type()
	if lt.NumIn() != 1 || lt.In(0) != int32Type || lt.NumOut() != 2 || lt.Out(1) != boolType ||
		lt.Out(0).Kind() != reflect.Pointer || lt.Out(0).Elem().Kind() != reflect.Struct {
		return nil, errWazeroShape
	}
	if f, ok := lt.Out(0).Elem().FieldByName("File"); !ok || f.Type.Kind() != reflect.Interface {
		return nil, errWazeroShape
	}
	return &fdTable{
		lookup:    lookup,
		cache:     map[int32]cachedFile{},
		connField: map[reflect.Type]int{},
	}, nil
}

// resolve says what guest descriptor fd is.
func (t *fdTable) resolve(fd int32) guestFile {
	t.args[0] = reflect.ValueOf(fd)
	out := t.lookup.Call(t.args[:])
	if !out[1].Bool() || out[0].IsNil() {
		delete(t.cache, fd)
		return guestFile{kind: fileBad}
	}
	file := out[0].Elem().FieldByName("File")
	if file.IsNil() {
		return guestFile{kind: fileBad}
	}
	impl := file.Elem() // the concrete value, normally a pointer to a struct
	if impl.Kind() != reflect.Pointer || impl.IsNil() || impl.Elem().Kind() != reflect.Struct {
		return guestFile{kind: fileReadyNow}
	}
	id := impl.UnsafePointer()
	if c, ok := t.cache[fd]; ok && c.id == id {
		return c.file
	}
	g := t.inspect(impl.Elem())
	t.cache[fd] = cachedFile{id: id, file: g}
	return g
}

// inspect reads the OS descriptor out of a socket file of wazero's.
func (t *fdTable) inspect(s reflect.Value) guestFile {
	idx, ok := t.connField[s.Type()]
	if !ok {
		idx = -1
		for i := range s.NumField() {
			if s.Type().Field(i).Type.Implements(syscallConnType) {
				idx = i
				break
			}
		}
		t.connField[s.Type()] = idx
	}
	if idx < 0 {
		return guestFile{kind: fileReadyNow}
	}
	f := s.Field(idx)
	// The field is unexported; read it through its address (s is
	// addressable: it was reached through a pointer).
	conn, _ := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(syscall.Conn)
	if conn == nil || reflect.ValueOf(conn).IsNil() {
		return guestFile{kind: fileBad}
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return guestFile{kind: fileBad}
	}
	g := guestFile{kind: fileOS, osfd: -1}
	if rc.Control(func(fd uintptr) { g.osfd = int(fd) }) != nil || g.osfd < 0 {
		return guestFile{kind: fileBad}
	}
	g.listener, _ = conn.(*net.TCPListener)
	g.conn, _ = conn.(*net.TCPConn)
	return g
}

// forget drops what is cached for fd, which the guest has closed.
func (t *fdTable) forget(fd int32) { delete(t.cache, fd) }

// listenerAddr finds the listening socket preopened for the guest: the
// first descriptor from 3 on that is one.
func (t *fdTable) listenerAddr() (fd int32, addr string, err error) {
	for fd := int32(3); fd < 64; fd++ {
		g := t.resolve(fd)
		if g.kind == fileBad {
			break
		}
		if g.listener != nil {
			return fd, g.listener.Addr().String(), nil
		}
	}
	return 0, "", fmt.Errorf("%w: no preopened TCP listener found among the guest's descriptors", errWazeroShape)
}

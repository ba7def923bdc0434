// Package peer reads the manifests of the real implementations the suite
// is run against: targets/NAME/peer.json, one per peer folder. A manifest
// says how to install, build and start the peer, and lists its modes (a
// clock, a timeout, an expectations file, extra check flags); `sessionspec
// check --target targets/NAME[:MODE]`, `sessionspec peers`, the Makefile
// and the matrix all read it, so adding a peer is one folder. The format
// is documented in targets/README.md.
//
// The manifest is decoded strictly: an unknown field, a wrong type or
// trailing data is an error, and every error is one line naming the file
// and the field.
package peer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// FileName is the manifest's name in a peer folder.
const FileName = "peer.json"

// The kinds of session an implementation keeps; the matrix groups its
// columns by them, in this order.
const (
	// ServerStore keeps the session on the server and gives the client
	// only an id.
	ServerStore = "server-side store"
	// ClientCookie keeps the whole session in a signed cookie: the server
	// keeps nothing and cannot revoke a cookie it issued.
	ClientCookie = "signed client-side cookie"
	// Clustered is several replicas of one site sharing a store.
	Clustered = "clustered"
)

// Kinds lists the kinds in the matrix's order.
var Kinds = []string{ServerStore, ClientCookie, Clustered}

// Services lists the services a manifest may ask for.
var Services = []string{"redis"}

// MaxReplicas bounds replicas (the suite takes at most 16 replica URLs).
const MaxReplicas = 16

// Manifest is one peer.json.
type Manifest struct {
	Impl     string           `json:"impl"`     // the implementation and its version, e.g. "Flask 2.2"
	Kind     string           `json:"kind"`     // one of Kinds (a mode may say otherwise)
	About    string           `json:"about"`    // one sentence: what is checked
	Versions string           `json:"versions"` // shell command (in the folder) printing the versions line
	Install  Install          `json:"install"`
	Build    string           `json:"build,omitempty"`    // shell command run in the folder before starting
	Services []string         `json:"services,omitempty"` // e.g. ["redis"]
	Replicas int              `json:"replicas,omitempty"` // default 1
	Start    string           `json:"start"`              // shell command, once per replica
	Default  string           `json:"default"`            // the mode used when none is named
	Modes    map[string]*Mode `json:"-"`                  // decoded from RawModes, each strictly

	RawModes map[string]json.RawMessage `json:"modes"`

	// Set by Load.
	Name string `json:"-"` // the folder's base name
	Dir  string `json:"-"` // the folder, absolute
	File string `json:"-"` // the manifest's path as given (for messages)
}

// Install says what the peer needs installed.
type Install struct {
	Debian []string `json:"debian,omitempty"` // Debian packages, installed with apt-get when missing
	Npm    bool     `json:"npm,omitempty"`    // npm ci in the folder when package-lock.json is newer than node_modules
	Go     bool     `json:"go,omitempty"`     // go mod download in the folder (its own go.mod)
}

// Mode is one way of running a peer.
type Mode struct {
	About         string    `json:"about"`                    // e.g. "wall clock, 2 s"
	Kind          string    `json:"kind,omitempty"`           // overrides the manifest's (one library, two kinds of store)
	Timeout       string    `json:"timeout"`                  // the session timeout the peer is started with (Go duration)
	Expect        string    `json:"expect"`                   // expectations file relative to the folder; "" = every MUST case must pass
	Flags         []string  `json:"flags,omitempty"`          // extra `sessionspec check` flags (placeholders filled)
	Browser       bool      `json:"browser,omitempty"`        // the matrix runs the browser cases
	MatrixTimeout string    `json:"matrix_timeout,omitempty"` // the timeout the matrix uses ("" = Timeout)
	Stage         string    `json:"stage,omitempty"`          // the `make test` stage that runs it ("" = none)
	Start         string    `json:"start,omitempty"`          // overrides the manifest's
	Replicas      int       `json:"replicas,omitempty"`       // overrides the manifest's
	Services      *[]string `json:"services,omitempty"`       // overrides the manifest's
}

// Stages are the `make test` stages a mode may name.
var Stages = []string{"test-twisted", "test-targets"}

var (
	modeName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	peerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// Load reads and validates the manifest of the peer folder dir (or the
// peer.json file itself).
func Load(dir string) (*Manifest, error) {
	file := dir
	if filepath.Base(dir) != FileName {
		file = filepath.Join(dir, FileName)
	} else {
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such manifest (a peer folder holds a %s)", file, FileName)
		}
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m, err := Parse(b, file)
	if err != nil {
		return nil, err
	}
	m.Name, m.Dir, m.File = filepath.Base(abs), abs, file
	if !peerName.MatchString(m.Name) {
		return nil, fmt.Errorf("%s: the folder name %q is not a peer name (lower-case letters, digits and -)", file, m.Name)
	}
	for _, name := range m.ModeNames() {
		if e := m.Modes[name].Expect; e != "" {
			if _, err := os.Stat(filepath.Join(abs, e)); err != nil {
				return nil, fmt.Errorf("%s: modes.%s.expect: %s does not exist in %s", file, name, e, dir)
			}
		}
	}
	return m, nil
}

// Parse decodes and validates a manifest; file names it in errors.
func Parse(b []byte, file string) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %s", file, jsonError(err, b))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: data after the manifest's object", file)
	}
	// Each mode on its own, so that an error names it.
	m.Modes = make(map[string]*Mode, len(m.RawModes))
	for name, raw := range m.RawModes {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var mo *Mode
		if err := dec.Decode(&mo); err != nil {
			return nil, fmt.Errorf("%s: modes.%s%s", file, name, modeErr(jsonError(err, raw)))
		}
		m.Modes[name] = mo
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return &m, nil
}

// jsonError says what is wrong in one line, with the field or the line.
func jsonError(err error, b []byte) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(b, syn.Offset)
		return fmt.Sprintf("line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return "empty file"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return msg
}

// modeErr makes a mode's decoding error read after "modes.NAME": a field
// path ("timeout: want string") as ".timeout: want string", anything
// else as ": message".
func modeErr(msg string) string {
	if i := strings.Index(msg, ": want "); i > 0 && !strings.Contains(msg[:i], " ") {
		return "." + msg
	}
	return ": " + msg
}

func position(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

func (m *Manifest) validate() error {
	switch {
	case strings.TrimSpace(m.Impl) == "":
		return errors.New("impl: empty (the implementation and its version)")
	case !slices.Contains(Kinds, m.Kind):
		return fmt.Errorf("kind: %q, want one of %q", m.Kind, Kinds)
	case strings.TrimSpace(m.About) == "":
		return errors.New("about: empty (one sentence: what is checked)")
	case strings.TrimSpace(m.Versions) == "":
		return errors.New("versions: empty (a shell command printing the versions line)")
	case m.Replicas < 0 || m.Replicas > MaxReplicas:
		return fmt.Errorf("replicas: %d, want 1 to %d", m.Replicas, MaxReplicas)
	case len(m.Modes) == 0:
		return errors.New("modes: none (at least one mode)")
	case m.Default == "":
		return errors.New("default: empty (the mode used when none is named)")
	case m.Modes[m.Default] == nil:
		return fmt.Errorf("default: %q is not one of the modes %q", m.Default, m.ModeNames())
	}
	for i, p := range m.Install.Debian {
		if !debianName.MatchString(p) {
			return fmt.Errorf("install.debian[%d]: %q is not a Debian package name", i, p)
		}
	}
	if err := checkServices("services", m.Services); err != nil {
		return err
	}
	for _, f := range []struct{ field, cmd string }{{"versions", m.Versions}, {"build", m.Build}, {"start", m.Start}} {
		if err := checkPlaceholders(f.field, f.cmd); err != nil {
			return err
		}
	}
	for _, name := range m.ModeNames() {
		mo := m.Modes[name]
		at := "modes." + name
		if mo == nil {
			return fmt.Errorf("%s: null", at)
		}
		if !modeName.MatchString(name) {
			return fmt.Errorf("%s: not a mode name (lower-case letters, digits and -, at most 32)", at)
		}
		if strings.TrimSpace(mo.About) == "" {
			return fmt.Errorf("%s.about: empty (e.g. \"wall clock, 2 s\")", at)
		}
		if mo.Kind != "" && !slices.Contains(Kinds, mo.Kind) {
			return fmt.Errorf("%s.kind: %q, want one of %q or none (the manifest's)", at, mo.Kind, Kinds)
		}
		if _, err := parseTimeout(mo.Timeout); err != nil {
			return fmt.Errorf("%s.timeout: %v", at, err)
		}
		if mo.MatrixTimeout != "" {
			if _, err := parseTimeout(mo.MatrixTimeout); err != nil {
				return fmt.Errorf("%s.matrix_timeout: %v", at, err)
			}
		}
		if mo.Expect != "" && (filepath.IsAbs(mo.Expect) || strings.HasPrefix(filepath.Clean(mo.Expect), "..")) {
			return fmt.Errorf("%s.expect: %q must be a file in the folder", at, mo.Expect)
		}
		if mo.Stage != "" && !slices.Contains(Stages, mo.Stage) {
			return fmt.Errorf("%s.stage: %q, want one of %q or none", at, mo.Stage, Stages)
		}
		if mo.Replicas < 0 || mo.Replicas > MaxReplicas {
			return fmt.Errorf("%s.replicas: %d, want 1 to %d", at, mo.Replicas, MaxReplicas)
		}
		if mo.Services != nil {
			if err := checkServices(at+".services", *mo.Services); err != nil {
				return err
			}
		}
		if mo.Start == "" && strings.TrimSpace(m.Start) == "" {
			return fmt.Errorf("%s: no start command (neither start nor %s.start)", at, at)
		}
		if err := checkPlaceholders(at+".start", mo.Start); err != nil {
			return err
		}
		for i, f := range mo.Flags {
			if err := checkPlaceholders(fmt.Sprintf("%s.flags[%d]", at, i), f); err != nil {
				return err
			}
			if name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "="); strings.HasPrefix(f, "-") && slices.Contains(reservedFlags, name) {
				return fmt.Errorf("%s.flags[%d]: %s is set by the tool (use the mode's fields)", at, i, f)
			}
		}
	}
	return nil
}

// reservedFlags are the check flags --target sets itself.
var reservedFlags = []string{"run", "target", "install", "replica", "expect"}

var debianName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

func checkServices(field string, s []string) error {
	for i, name := range s {
		if !slices.Contains(Services, name) {
			return fmt.Errorf("%s[%d]: %q, want one of %q", field, i, name, Services)
		}
		if slices.Index(s, name) != i {
			return fmt.Errorf("%s[%d]: %q twice", field, i, name)
		}
	}
	return nil
}

func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty (a Go duration, e.g. 2s)")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a Go duration (e.g. 2s)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

// ModeNames lists the modes, the default first, then by name.
func (m *Manifest) ModeNames() []string {
	names := make([]string, 0, len(m.Modes))
	for n := range m.Modes {
		if n != m.Default {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if _, ok := m.Modes[m.Default]; ok {
		names = append([]string{m.Default}, names...)
	}
	return names
}

// List loads every root/targets/*/peer.json, the reference first, then
// by name. A broken manifest is an error: nothing is skipped silently.
func List(root string) ([]*Manifest, error) {
	files, err := filepath.Glob(filepath.Join(root, "targets", "*", FileName))
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, f := range files {
		m, err := Load(filepath.Dir(f))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Name == "reference") != (out[j].Name == "reference") {
			return out[i].Name == "reference"
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// SplitTarget splits "targets/NAME[:MODE]" into the folder and the mode.
func SplitTarget(s string) (dir, mode string) {
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.ContainsAny(s[i+1:], `/\`) {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// Run is one mode of a peer, resolved: what --target runs.
type Run struct {
	M             *Manifest
	Mode          string
	About         string
	Kind          string // the mode's, else the manifest's
	Timeout       time.Duration
	MatrixTimeout time.Duration // Timeout unless the mode says otherwise
	Expect        string        // absolute path, "" for none
	Flags         []string      // placeholders not yet filled
	Browser       bool
	Stage         string
	Start         string
	Replicas      int
	Services      []string
}

// Resolve picks a mode ("" for the default).
func (m *Manifest) Resolve(mode string) (*Run, error) {
	if mode == "" {
		mode = m.Default
	}
	mo, ok := m.Modes[mode]
	if !ok {
		return nil, fmt.Errorf("%s: no mode %q (modes: %s)", m.File, mode, strings.Join(m.ModeNames(), ", "))
	}
	r := &Run{M: m, Mode: mode, About: mo.About, Kind: m.Kind, Flags: mo.Flags, Browser: mo.Browser, Stage: mo.Stage,
		Start: m.Start, Replicas: max(m.Replicas, 1), Services: m.Services}
	if mo.Kind != "" {
		r.Kind = mo.Kind
	}
	r.Timeout, _ = parseTimeout(mo.Timeout) // validated
	r.MatrixTimeout = r.Timeout
	if mo.MatrixTimeout != "" {
		r.MatrixTimeout, _ = parseTimeout(mo.MatrixTimeout)
	}
	if mo.Expect != "" {
		r.Expect = filepath.Join(m.Dir, mo.Expect)
	}
	if mo.Start != "" {
		r.Start = mo.Start
	}
	if mo.Replicas > 0 {
		r.Replicas = mo.Replicas
	}
	if mo.Services != nil {
		r.Services = *mo.Services
	}
	return r, nil
}

// Runs resolves every mode, the default first.
func (m *Manifest) Runs() []*Run {
	var out []*Run
	for _, name := range m.ModeNames() {
		r, _ := m.Resolve(name) // the name is one of the modes
		out = append(out, r)
	}
	return out
}

// Name is the run's report name: NAME for a peer with one mode, else
// NAME-MODE (reports/NAME-MODE.json).
func (r *Run) Name() string {
	if len(r.M.Modes) == 1 {
		return r.M.Name
	}
	return r.M.Name + "-" + r.Mode
}

// Target is how --target names the run: targets/NAME:MODE.
func (r *Run) Target() string { return "targets/" + r.M.Name + ":" + r.Mode }

// TimeoutFixed says the start command does not take the timeout: the
// peer's timeout cannot be changed from the command line.
func (r *Run) TimeoutFixed() bool {
	for _, p := range []string{"{timeout}", "{timeout_s}", "{timeout_ms}"} {
		if strings.Contains(r.Start, p) {
			return false
		}
	}
	return true
}

package peer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `{
  "impl": "Flask 2.2",
  "kind": "signed client-side cookie",
  "about": "Flask's default session",
  "versions": "echo Flask 2.2",
  "install": {"debian": ["python3-flask"], "npm": false, "go": false},
  "build": "",
  "services": [],
  "replicas": 1,
  "start": "exec /usr/bin/python3 app.py --port 0 --timeout {timeout_s}",
  "default": "wall",
  "modes": {
    "wall": {"about": "wall clock, 2 s", "timeout": "2s", "expect": "expect.txt", "flags": [], "browser": true, "matrix_timeout": "4s", "stage": "test-targets"},
    "slow": {"about": "wall clock, 3 s", "kind": "server-side store", "timeout": "3s", "expect": "", "replicas": 2, "services": ["redis"], "start": "exec x --redis {redis} --n {replica}"}
  }
}`

func TestParseGood(t *testing.T) {
	m, err := Parse([]byte(good), "peer.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ModeNames(); strings.Join(got, ",") != "wall,slow" {
		t.Errorf("ModeNames = %q, want the default first", got)
	}
	m.Name, m.Dir = "flask", "/x/targets/flask"
	r, err := m.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "wall" || r.Timeout != 2*time.Second || r.MatrixTimeout != 4*time.Second || r.Replicas != 1 ||
		r.Expect != "/x/targets/flask/expect.txt" || r.Stage != "test-targets" || !r.Browser || r.TimeoutFixed() {
		t.Errorf("Resolve(\"\") = %+v", r)
	}
	if r.Name() != "flask-wall" || r.Target() != "targets/flask:wall" {
		t.Errorf("Name, Target = %q, %q", r.Name(), r.Target())
	}
	s, err := m.Resolve("slow")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != ClientCookie || s.Kind != ServerStore {
		t.Errorf("kinds: %q (the manifest's), %q (the mode's own)", r.Kind, s.Kind)
	}
	if s.Replicas != 2 || len(s.Services) != 1 || s.Expect != "" || s.MatrixTimeout != 3*time.Second || !s.TimeoutFixed() {
		t.Errorf("Resolve(slow) = %+v", s)
	}
	if _, err := m.Resolve("nope"); err == nil || !strings.Contains(err.Error(), `no mode "nope" (modes: wall, slow)`) {
		t.Errorf("Resolve(nope) = %v", err)
	}
}

// Every error is one line naming the file and the field.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{`"impl": "Flask 2.2",`, `"impl": "Flask 2.2", "colour": 1,`, `unknown field "colour"`},
		{`"replicas": 1`, `"replicas": "1"`, `replicas: want int, got JSON string`},
		{`"timeout": "2s", "expect": "expect.txt"`, `"timeout": 2, "expect": "expect.txt"`, `modes.wall.timeout: want string`},
		{`"kind": "signed client-side cookie"`, `"kind": "cookie"`, `kind: "cookie", want one of`},
		{`"kind": "server-side store"`, `"kind": "cache"`, `modes.slow.kind: "cache", want one of`},
		{`"default": "wall"`, `"default": "cold"`, `default: "cold" is not one of the modes`},
		{`"timeout": "2s"`, `"timeout": "2 s"`, `modes.wall.timeout: "2 s" is not a Go duration`},
		{`"timeout": "2s"`, `"timeout": "-2s"`, `modes.wall.timeout: "-2s" must be positive`},
		{`"matrix_timeout": "4s"`, `"matrix_timeout": "x"`, `modes.wall.matrix_timeout`},
		{`"stage": "test-targets"`, `"stage": "test-all"`, `modes.wall.stage: "test-all"`},
		{`"services": []`, `"services": ["mysql"]`, `services[0]: "mysql", want one of`},
		{`"replicas": 1`, `"replicas": 17`, `replicas: 17, want 1 to 16`},
		{`--timeout {timeout_s}`, `--timeout {timeout_h}`, `start: unknown placeholder {timeout_h}`},
		{`"flags": []`, `"flags": ["--run", "x"]`, `modes.wall.flags[0]: --run is set by the tool`},
		{`"flags": []`, `"flags": ["--expect=x"]`, `modes.wall.flags[0]: --expect=x is set by the tool`},
		{`"expect": "expect.txt"`, `"expect": "../x.txt"`, `modes.wall.expect: "../x.txt" must be a file in the folder`},
		{`"debian": ["python3-flask"]`, `"debian": ["Python3 Flask"]`, `install.debian[0]`},
		{`"impl": "Flask 2.2"`, `"impl": ""`, `impl: empty`},
		{`"versions": "echo Flask 2.2"`, `"versions": ""`, `versions: empty`},
		{`"start": "exec /usr/bin/python3 app.py --port 0 --timeout {timeout_s}",`, ``, `modes.wall: no start command`},
		{`"about": "wall clock, 2 s"`, `"about": ""`, `modes.wall.about: empty`},
		{`"modes": {`, `"modes": {"Bad Name": {"about": "x", "timeout": "1s", "expect": ""},`, `modes.Bad Name: not a mode name`},
		{`"replicas": 1,`, `"replicas": 1,,`, `line 9, column`},
	} {
		in := strings.Replace(good, tc.from, tc.to, 1)
		if in == good {
			t.Fatalf("%q not in the manifest", tc.from)
		}
		_, err := Parse([]byte(in), "targets/x/peer.json")
		if err == nil || !strings.HasPrefix(err.Error(), "targets/x/peer.json: ") || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s -> %s: error %v, want one line with %q", tc.from, tc.to, err, tc.want)
		}
	}
	if _, err := Parse([]byte(good+"{}"), "p.json"); err == nil || !strings.Contains(err.Error(), "data after") {
		t.Errorf("trailing data: %v", err)
	}
	if _, err := Parse(nil, "p.json"); err == nil || !strings.Contains(err.Error(), "empty file") {
		t.Errorf("empty: %v", err)
	}
}

func TestLoadAndList(t *testing.T) {
	root := t.TempDir()
	write := func(name, manifest string, files ...string) {
		dir := filepath.Join(root, "targets", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, f), nil, 0o644)
		}
	}
	write("flask", good, "expect.txt")
	write("reference", good, "expect.txt")
	write("alpha", good, "expect.txt")
	os.MkdirAll(filepath.Join(root, "targets", "matrix"), 0o755) // no manifest: not a peer
	ms, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "reference,alpha,flask" {
		t.Errorf("List: %q, want the reference first, then by name", names)
	}
	if !filepath.IsAbs(ms[0].Dir) {
		t.Errorf("Dir %q is not absolute", ms[0].Dir)
	}
	// A missing expectations file is an error naming the field; so is
	// a broken manifest anywhere: List skips nothing.
	write("beta", good)
	if _, err := List(root); err == nil || !strings.Contains(err.Error(), "modes.wall.expect: expect.txt does not exist") {
		t.Errorf("List with a missing expect file: %v", err)
	}
	write("beta", `{"impl": 1}`, "expect.txt")
	if _, err := List(root); err == nil || !strings.Contains(err.Error(), "beta") {
		t.Errorf("List with a broken manifest: %v", err)
	}
	if _, err := Load(filepath.Join(root, "targets", "matrix")); err == nil || !strings.Contains(err.Error(), "no such manifest") {
		t.Errorf("Load without a manifest: %v", err)
	}
}

func TestSplitTarget(t *testing.T) {
	for in, want := range map[string][2]string{
		"targets/twisted":            {"targets/twisted", ""},
		"targets/twisted:logger":     {"targets/twisted", "logger"},
		"/abs/targets/tomcat:sweep":  {"/abs/targets/tomcat", "sweep"},
		"targets/tomcat/peer.json":   {"targets/tomcat/peer.json", ""},
		"C:/no/mode/after/the/colon": {"C:/no/mode/after/the/colon", ""},
	} {
		if d, m := SplitTarget(in); d != want[0] || m != want[1] {
			t.Errorf("SplitTarget(%q) = %q, %q, want %q", in, d, m, want)
		}
	}
}

func TestFill(t *testing.T) {
	v := Values{Dir: "/a dir/x", Bin: "/repo/bin", Sessionspec: "/repo/bin/sessionspec", Timeout: 2500 * time.Millisecond, Replica: 1, Mode: "wall"}
	got, err := v.Shell("cd {dir} && exec {bin}/x --t {timeout} --ms {timeout_ms} --n {replica} --m {mode} ${TWISTED_PYTHON:-py} ${HOME}")
	if err != nil {
		t.Fatal(err)
	}
	want := "cd '/a dir/x' && exec /repo/bin/x --t 2.5s --ms 2500 --n 1 --m wall ${TWISTED_PYTHON:-py} ${HOME}"
	if got != want {
		t.Errorf("Shell:\n got %s\nwant %s", got, want)
	}
	if _, err := v.Shell("x {timeout_s}"); err == nil || !strings.Contains(err.Error(), "not whole seconds") {
		t.Errorf("{timeout_s} of 2.5s: %v", err)
	}
	if _, err := v.Shell("x {redis}"); err == nil || !strings.Contains(err.Error(), "starts no redis") {
		t.Errorf("{redis} without the service: %v", err)
	}
	if got, _ := v.Arg("{dir}/expect.txt"); got != "/a dir/x/expect.txt" {
		t.Errorf("Arg = %q, want it unquoted", got)
	}
	if q := ShellQuote("it's"); q != `'it'\''s'` {
		t.Errorf("ShellQuote = %s", q)
	}
}

func TestCommand(t *testing.T) {
	ctx := context.Background()
	out, err := Command(ctx, t.TempDir(), "pwd >/dev/null; echo one; echo two >&2", time.Minute)
	if err != nil || out != "one\ntwo" {
		t.Errorf("Command = %q, %v", out, err)
	}
	_, err = Command(ctx, t.TempDir(), "echo why >&2; exit 3", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exit status 3: why") {
		t.Errorf("failing Command: %v", err)
	}
	start := time.Now()
	_, err = Command(ctx, t.TempDir(), "sleep 30 & sleep 30; wait", 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms") || time.Since(start) > 10*time.Second {
		t.Errorf("Command past its limit: %v after %s", err, time.Since(start))
	}
}

func TestMissing(t *testing.T) {
	old := debianInstalled
	defer func() { debianInstalled = old }()
	debianInstalled = func(p string) bool { return p == "there" }
	dir := t.TempDir()
	m := &Manifest{Name: "x", Dir: dir, Install: Install{Debian: []string{"there", "absent"}, Npm: true}}
	os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte("{}"), 0o644)
	miss := m.Missing()
	if len(miss) != 2 || miss[0] != "Debian packages absent" || !strings.HasPrefix(miss[1], "npm ci in") {
		t.Errorf("Missing = %q", miss)
	}
	// npm's own record newer than the lock: nothing to do.
	os.MkdirAll(filepath.Join(dir, "node_modules"), 0o755)
	stamp := filepath.Join(dir, "node_modules", ".package-lock.json")
	os.WriteFile(stamp, []byte("{}"), 0o644)
	later := time.Now().Add(time.Minute)
	os.Chtimes(stamp, later, later)
	m.Install.Debian = []string{"there"}
	if err := m.CheckInstalled(); err != nil {
		t.Errorf("CheckInstalled with everything there: %v", err)
	}
	m.Install.Debian = []string{"absent"}
	if err := m.CheckInstalled(); err == nil || !strings.Contains(err.Error(), "add --install") {
		t.Errorf("CheckInstalled: %v", err)
	}
}

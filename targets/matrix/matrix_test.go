package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// result makes a judged result of a catalogue case.
func result(t *testing.T, id string, o spec.Outcome, expected spec.Outcome, reason string) spec.Result {
	t.Helper()
	c, ok := spec.Lookup(id)
	if !ok {
		t.Fatalf("no case %s", id)
	}
	return spec.Result{Case: c, Outcome: o, Message: "message of " + id, Evidence: "GET / HTTP/1.1", Expected: expected, Reason: reason}
}

// TestRenderFromReports renders two runs from their JSON reports (one
// with an expected deviation, a label and an unexpected failure, one
// without a report) and checks the cells, links and findings of the pages.
func TestRenderFromReports(t *testing.T) {
	dir := t.TempDir()
	rep := spec.Report{Target: "lib 1.0", Clock: "wall", Timeout: 2, Results: []spec.Result{
		result(t, "PERSIST-001", spec.Passed, "", ""),
		result(t, "PERSIST-005", spec.Failed, spec.Failed, "the cookie is named X"),
		result(t, "NOTIFY-001", spec.Passed, spec.Passed, "ADAPTER CODE: polling"),
		result(t, "TIMEOUT-003", spec.Failed, "", ""),
	}, ExitCode: 1}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rs := []*Run{
		{Name: "lib", Impl: "Lib", Mode: "wall clock, 2 s", Expect: "targets/lib/expect.txt", Skipped: true, Log: "logs/lib.log"},
		{Name: "gone", Impl: "Gone", Mode: "wall", Skipped: true, Log: "logs/gone.log"},
	}
	for _, r := range rs {
		load(r, dir)
	}
	if rs[0].Report == nil || rs[1].Report != nil {
		t.Fatalf("load: got reports %v, %v; want the first only", rs[0].Report != nil, rs[1].Report != nil)
	}
	m := build(rs, 3*time.Second, true)
	if err := m.write(dir, filepath.Join(dir, "MATRIX.md")); err != nil {
		t.Fatal(err)
	}

	cell := func(id string, run int) Cell {
		for _, row := range m.Rows {
			if row.Case.ID == id {
				return row.Cells[run]
			}
		}
		t.Fatalf("no row %s", id)
		return Cell{}
	}
	for _, tc := range []struct {
		id           string
		class        string
		labeled, new bool
	}{
		{"PERSIST-001", "pass", false, false},
		{"PERSIST-005", "fail", true, false},
		{"NOTIFY-001", "pass", true, false},
		{"TIMEOUT-003", "fail", false, true},
		{"EXPIRE-001", "none", false, false},
	} {
		c := cell(tc.id, 0)
		if c.Class != tc.class || c.Labeled != tc.labeled || c.New != tc.new {
			t.Errorf("%s: class %s labeled %v new %v; want %s %v %v", tc.id, c.Class, c.Labeled, c.New, tc.class, tc.labeled, tc.new)
		}
	}
	if c := cell("PERSIST-001", 1); c.Class != "none" || !strings.Contains(c.Title, "no report") {
		t.Errorf("a run without a report: cell %+v", c)
	}
	if len(m.Findings) != 2 || len(m.New) != 1 || m.New[0].Case.ID != "TIMEOUT-003" {
		t.Errorf("findings %d (want 2), new %v (want TIMEOUT-003)", len(m.Findings), m.New)
	}

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	html := read("matrix.html")
	for _, want := range []string{`href="evidence/lib.html#PERSIST-005"`, "the cookie is named X", "ADAPTER CODE: polling", `class="fail new first"`} {
		if !strings.Contains(html, want) {
			t.Errorf("matrix.html lacks %q", want)
		}
	}
	if ev := read("evidence/lib.html"); !strings.Contains(ev, `id="TIMEOUT-003"`) || !strings.Contains(ev, "GET / HTTP/1.1") {
		t.Errorf("evidence page lacks the case anchor or its exchanges")
	}
	if md := read("matrix.md"); !strings.Contains(md, "[**fail**†](evidence/lib.html#PERSIST-005)") {
		t.Errorf("matrix.md lacks the linked deviation cell:\n%s", md)
	}
	if snap := read("MATRIX.md"); strings.Contains(snap, "evidence/") || !strings.Contains(snap, "**fail**†") {
		t.Errorf("the snapshot must have no links and keep the cells:\n%s", snap)
	}
}

// TestKinds checks that every run has a kind, that the runs of a kind are
// listed together, and that the pages group the columns by kind even when
// the runs are not listed so.
func TestKinds(t *testing.T) {
	kinds := map[string]string{}
	last := ""
	all, err := runs("../..", "bin/sessionspec")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Kind != ServerStore && r.Kind != ClientCookie && r.Kind != Clustered {
			t.Errorf("%s: kind %q", r.Name, r.Kind)
		}
		if prev, ok := kinds[r.Kind]; ok && last != r.Kind {
			t.Errorf("%s: kind %q again after %s", r.Name, r.Kind, prev)
		}
		kinds[r.Kind], last = r.Name, r.Kind
	}
	for name, kind := range map[string]string{"flask": ClientCookie, "django": ServerStore, "scs": ServerStore, "reference-fake": ServerStore, "tomcat-defaults": ServerStore} {
		if !slices.ContainsFunc(all, func(r *Run) bool { return r.Name == name && r.Kind == kind }) {
			t.Errorf("no run %s of kind %s", name, kind)
		}
	}

	rs := []*Run{
		{Name: "a", Kind: ServerStore, Impl: "A", Mode: "m1", Skipped: true},
		{Name: "c", Kind: ClientCookie, Impl: "C", Mode: "m", Skipped: true},
		{Name: "b", Kind: ServerStore, Impl: "A", Mode: "m2", Skipped: true},
	}
	m := build(rs, time.Second, true)
	var order []string
	for _, r := range m.Runs {
		order = append(order, r.Name)
	}
	if got := strings.Join(order, ","); got != "a,b,c" {
		t.Errorf("columns %s; want a,b,c", got)
	}
	if len(m.Kinds) != 2 || m.Kinds[0].Span != 2 || m.Kinds[1].Span != 1 || len(m.Groups) != 2 || m.Groups[0].Span != 2 {
		t.Errorf("kinds %+v, groups %+v", m.Kinds, m.Groups)
	}
	if !m.Rows[0].Cells[0].First || m.Rows[0].Cells[1].First || !m.Rows[0].Cells[2].First {
		t.Errorf("the first column of each kind must be marked: %+v", m.Rows[0].Cells)
	}
	md := m.markdown(false)
	for _, want := range []string{"*server-side store*<br>A<br>m2", "*signed client-side cookie*<br>C<br>m", "**signed client-side cookie** (C)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

package spec

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEveryCaseIsChecked(t *testing.T) {
	ids := map[string]bool{}
	idShape := regexp.MustCompile(`^[A-Z]+-\d{3}$`)
	for _, c := range Cases() {
		if !idShape.MatchString(c.ID) || ids[c.ID] {
			t.Errorf("case ID %q is malformed or repeated", c.ID)
		}
		ids[c.ID] = true
		if c.Check == nil {
			t.Errorf("case %s has no check", c.ID)
		}
		if c.Level != Must && c.Level != Should && c.Level != Advisory {
			t.Errorf("case %s has level %q", c.ID, c.Level)
		}
		if c.Level != Advisory && (c.Seed == "" || c.Source == NoSourceSection) && c.ID != "ROBUST-003" {
			t.Errorf("case %s (%s) cites no source sentence", c.ID, c.Level)
		}
		if c.Level == Must && c.Source == NoSourceSection {
			t.Errorf("MUST case %s has no source: MUST is what the seeds document", c.ID)
		}
		if strings.ToLower(c.Area) != c.Area || c.Title == "" {
			t.Errorf("case %s: area %q title %q", c.ID, c.Area, c.Title)
		}
	}
}

// Every sentence a case cites must stand in the seed documents. They
// live beside the repository (../shared/seeds) on the project's machines,
// not in it; elsewhere the test says so and skips.
func TestSeedsAreQuotedVerbatim(t *testing.T) {
	files, _ := filepath.Glob("../../shared/seeds/*.txt")
	if len(files) == 0 {
		t.Skip("the seed documents are not beside this checkout (../shared/seeds)")
	}
	var docs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for _, c := range Unquoted(Cases(), docs) {
		t.Errorf("case %s cites %q, which is not in the seeds", c.ID, c.Seed)
	}
	if bad := Unquoted(Cases(), nil); len(bad) == 0 {
		t.Fatal("Unquoted found every sentence in no documents at all")
	}
}

func TestResponseNumberSkipsMarkup(t *testing.T) {
	for body, want := range map[string]int{
		"Visit #3 for you!": 3, "<meta charset='utf-8'>Visit #12 for you!": 12, "<p class=\"x-1\">-4</p>": -4,
	} {
		if n, ok := (&Response{Body: body}).Number(); !ok || n != want {
			t.Errorf("Number(%q) = %d, %v; want %d", body, n, ok, want)
		}
	}
	if _, ok := (&Response{Body: "<b>none</b>"}).Number(); ok {
		t.Error("a body with no number gave one")
	}
}

// needs-expired selects exactly the cases that read the notification
// feed, the CLUSTER ones among them, so one --allow-na accepts a target
// without a feed.
func TestNeedsLabels(t *testing.T) {
	sel, err := ParseLabelFilter("needs-expired")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range Cases() {
		if sel(c) != c.needs(Expired) {
			t.Errorf("%s: needs-expired selects %v, needs %v", c.ID, sel(c), c.Needs)
		}
		if sel(c) {
			got = append(got, c.ID)
		}
	}
	if !strings.Contains(strings.Join(got, " "), "NOTIFY-001") || !strings.Contains(strings.Join(got, " "), "CLUSTER-005 CLUSTER-006") {
		t.Errorf("needs-expired selects %v", got)
	}
}

package htmlreport

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionspec/sessionspec/browser"
	"github.com/sessionspec/sessionspec/spec"
)

// tinyPNG is a w×h white PNG.
func tinyPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.White)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A replay's pages: the claims marked in the seed's paragraph by their
// steps' verdicts (one mark for a claim several steps judged, red if one
// failed), the seed's “code“ as code, the target's text escaped, the
// screenshots embedded and scaled, and an index that links every page
// with what did not hold.
func TestWriteReplay(t *testing.T) {
	w := &browser.Walkthrough{ID: "endings", Title: "Session Endings", Source: spec.SessionEndings,
		Paragraphs: []string{"Run it and visit ``/logme`` to see it in action. Keep visiting it to keep your session active. Stop."}}
	shot := tinyPNG(t, 80, 24)
	jar := []browser.JarCookie{{Name: "TWISTED_SESSION", Value: "abc", Path: "/", Expires: "browser session", Session: true}}
	step := func(n int, claim string, mark spec.Outcome, reason string) browser.ReplayStep {
		return browser.ReplayStep{N: n, User: "alice", Did: []string{"reloaded http://127.0.0.1:9/logme"}, URL: "http://127.0.0.1:9/logme", Status: 200,
			Text: "<script>alert(1)</script>", Screenshot: shot, Jar: jar, Claim: claim, Mark: mark, Reason: reason}
	}
	r := &browser.Replay{Target: "lib <1.0>", URL: "http://127.0.0.1:9/", Clock: "controlled", Cookie: "TWISTED_SESSION",
		Walks: []*browser.Replayed{{Walkthrough: w, Outcome: spec.Failed, Steps: []browser.ReplayStep{
			step(1, "Run it and visit ``/logme`` to see it in action.", spec.Passed, "fine"),
			step(2, "Keep visiting it to keep your session active.", spec.Passed, "the same session"),
			step(3, "Keep visiting it to keep your session active.", spec.Failed, "a new session <b>"),
		}}}}
	dir := t.TempDir()
	if err := WriteReplay(dir, r, ReplayOptions{ShotWidth: 40}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "endings.html"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(page),
		`<mark class="pass">Run it and visit <code>/logme</code> to see it in action.<sup>1</sup></mark>`,
		`<mark class="fail">Keep visiting it to keep your session active.<sup>2,3</sup></mark> Stop.`,
		`<div class="rstep fail" id="step-3">`, "a new session &lt;b&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;",
		`width="40"`, "data:image/png;base64,", "1 of 3 claims did not hold", "lib &lt;1.0&gt;")
	if strings.Contains(string(page), "<script>") {
		t.Error("the target's text is not escaped")
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(index), `<a href="endings.html">Session Endings</a>`, "exit 1</b> — 1 of 3 claims did not hold",
		"did not hold: step 3: Keep visiting it to keep your session active.", "2 of 3")
}

// scaleDown keeps the proportions and averages what it covers.
func TestScaleDown(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 4, 2))
	for x := range 4 {
		img.SetGray(x, 0, color.Gray{Y: uint8(255 * (x % 2))})
		img.SetGray(x, 1, color.Gray{Y: uint8(255 * (x % 2))})
	}
	got := scaleDown(img, 2)
	if b := got.Bounds(); b.Dx() != 2 || b.Dy() != 1 {
		t.Fatalf("bounds %v, want 2×1", b)
	}
	if r, _, _, _ := got.At(0, 0).RGBA(); r>>8 < 126 || r>>8 > 128 {
		t.Errorf("pixel (0,0) is %d, want the average 127", r>>8)
	}
}

// trimBlank cuts the blank rows below the last drawn one, keeping the
// margin; a page drawn to its bottom is left whole.
func TestTrimBlank(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 10, 100))
	for y := range 100 {
		for x := range 10 {
			img.Set(x, y, color.White)
		}
	}
	img.Set(3, 20, color.Black)
	if got := trimBlank(img, 16).Bounds(); got.Dx() != 10 || got.Dy() != 37 {
		t.Errorf("trimmed to %v, want 10×37", got)
	}
	img.Set(3, 99, color.Black)
	if got := trimBlank(img, 16).Bounds(); got.Dy() != 100 {
		t.Errorf("trimmed to %v, want it whole", got)
	}
}

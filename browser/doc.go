// Package browser replays the walk-throughs of the seed documents in a
// real, headless Chromium driven over the DevTools protocol (chromedp):
// what "Session Basics", "Storing Objects in the Session" and "Session
// Endings" say a person sees in a browser becomes a case of the
// conformance suite.
//
// The caller owns the browser. Start runs one Chromium and returns a
// *Browser; its Cases, BROWSER-001 onwards with the area (and label)
// "browser", are ordinary spec.Case values bound to it, checking the same
// target description as the HTTP cases: URL, discovery document,
// controlled clock and expired feed. Importing the package registers
// nothing and keeps no state: the cases join a run explicitly, and Stop
// ends the browser.
//
//	b, err := browser.Start(ctx, browser.Options{Screenshots: "shots"})
//	if err != nil {
//		return err // one line: no Chromium, or it would not start (exit 2, never a skip)
//	}
//	defer b.Stop()
//	rep, err := spec.Run(ctx, target, spec.Options{Cases: append(spec.Cases(), b.Cases()...)})
//
// Catalogue describes the same cases without a browser (for `sessionspec
// list`, label filters and expectations files); running one of those ends
// it as an error that says to use (*Browser).Cases. `sessionspec check
// --browser` does all of the above; a label filter of "!browser" leaves
// the browser cases out.
//
// # One case at a time
//
// spec.Run runs cases at once (Options.Parallel), so browser cases may
// start together with each other and with the HTTP cases. A Browser runs
// its cases one at a time: a browser case waits for the turn of the
// Browser before it opens a tab (bounded by the run's context, and noted
// in its evidence when it had to wait), while the HTTP cases go on
// beside it. The reasons:
//
//   - BROWSER-005 needs what a person's browser has, a profile on disk: it
//     uses the browser's default context, then closes the whole browser
//     and starts it again on the same profile. Any other case's tabs would
//     close under it.
//   - The cases that wait on the wall clock (BROWSER-002, the stillAlive
//     checks of BROWSER-003 and -004) judge a target by how fast the
//     browser visits it; on a small machine several cases driving one
//     Chromium at once would stretch each other's steps past a short
//     timeout.
//
// The other choice, a Chromium of its own for BROWSER-005, would let
// BROWSER-001..004 overlap, at the cost of a second browser start and of
// the second reason above. Several runs may share one Browser, at once or
// one after another: their cases take turns too, and BROWSER-005 empties
// the default context's cookie jar before it starts. Two Browsers share
// nothing (each has a Chromium and a profile of its own), so two runs
// that must not wait for each other use one each. On a controlled clock
// a case takes the turn after the run's clock lock, never before, so a
// case that moves time and a browser case waiting for the turn cannot
// deadlock.
//
// A case's time in a report (Result.Seconds) is measured by spec.Run
// around the whole case, its wait for the turn included; `sessionspec
// check --parallel 1` (or spec.Options{Parallel: 1}) gives each browser
// case's own time.
//
// # Users, tabs and screenshots
//
// Every user of a case is an isolated browser context of its own, made
// ahead while the previous user's steps run, so no cookie passes from one
// case to another. /favicon.ico is blocked in every tab so that it cannot
// make sessions.
//
// After every step a case saves a screenshot, <CASE-ID>-<step>-<slug>.png,
// in the screenshot directory (Options.Screenshots, ScreenshotDir), and
// notes the step (the page's address, status and text) in its evidence. A
// case first removes the screenshots its own earlier run left there. When
// a case fails, the evidence also gets a last screenshot, the page text
// and the cookie jar, read through the DevTools protocol, of every tab it
// had open.
//
// # Chromium
//
// Chromium is found through Options.Chromium, then $SESSIONSPEC_CHROMIUM,
// then /usr/bin/chromium and chromium, chromium-browser, google-chrome on
// PATH. It runs headless with --no-sandbox, --disable-gpu and
// --disable-dev-shm-usage, so that it works as root in a container, and
// with background networking, component updates and sync turned off, so
// that it talks to the target only. A browser that cannot be found or
// started is a harness error (exit code 2), never a skip. A Chromium that
// dies between two cases is started again for the next one.
//
// The package is native only: chromedp does not build for WebAssembly.
package browser

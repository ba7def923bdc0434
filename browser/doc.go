// Package browser replays the walk-throughs of the seed documents in a
// real, headless Chromium driven over the DevTools protocol (chromedp):
// what "Session Basics", "Storing Objects in the Session" and "Session
// Endings" say a person sees in a browser becomes a case of the
// conformance suite.
//
// The cases join the suite of package spec through spec.Register, with
// the IDs BROWSER-001 onwards, the area (and Ginkgo label) "browser", and
// the same target description as the HTTP cases: URL, discovery document,
// controlled clock and expired feed. Importing the package registers them;
// `sessionspec check --browser` runs them, and a label filter of
// "!browser" leaves them out.
//
// One Chromium serves a whole run. It starts with the first browser case
// (or Start) and stops when the suite ends (the package's AfterSuite, or
// Stop). Every user of a case is an isolated browser context of its own,
// made ahead while the previous case runs, so no cookie passes from one
// case to another. The one exception is BROWSER-005, which needs what a
// person's browser has: a profile on disk. It uses the browser's default
// context, which no other case touches, then closes the browser and
// starts it again on the same profile. /favicon.ico is blocked in every
// tab so that it cannot make sessions.
//
// After every step a case saves a screenshot, <CASE-ID>-<step>-<slug>.png,
// in the screenshot directory (Configure), and notes the step (the page's
// address, status and text) in its evidence. When a case fails, the
// evidence also gets a last screenshot, the page text and the cookie jar,
// read through the DevTools protocol, of every tab it had open.
//
// Chromium is found through Options.Chromium, then $SESSIONSPEC_CHROMIUM,
// then /usr/bin/chromium and chromium, chromium-browser, google-chrome on
// PATH. It runs headless with --no-sandbox and --disable-dev-shm-usage, so
// that it works as root in a container, and with background networking,
// component updates and sync turned off, so that it talks to the target
// only. A browser that cannot be found or started is a harness error
// (exit code 2), never a skip.
//
// The package is native only: chromedp does not build for WebAssembly.
package browser

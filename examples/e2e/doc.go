// Package e2e holds the end-to-end tests of the examples: the example
// servers run in-process and a real headless Chromium drives their pages
// (github.com/chromedp/chromedp), and the guide's code blocks are checked
// against the compiled code they quote. It has no code of its own.
//
// The browser tests need Chromium (Debian: apt-get install chromium; or set
// NOWS_CHROMIUM to a Chrome or Chromium binary). Without it they skip, except
// when CI=true, where they fail. Screenshots go to $NOWS_ARTIFACTS (default:
// a temporary directory of the test); NOWS_UPDATE_SCREENSHOTS=1 also
// refreshes docs/img/echo-page.png and docs/img/dashboard.png.
//
// TestTutorial runs docs/tutorial.md, then its twin docs/zh/tutorial.md:
// the nows it builds, the commands of the page, the app they make (which
// must equal examples/tutorial, a module of its own), its pages in
// Chromium, nats-server -js for its two nodes (built from go.mod when none
// is on $PATH), and nginx and systemd-analyze on its deploy files; without
// Chromium, nginx or systemd-analyze their checks are skipped, except when
// CI=true.
package e2e

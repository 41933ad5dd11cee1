// Package skew is the end-to-end test of skew protection (docs/skew.md)
// with a real browser: headless Chromium (Debian's chromium, driven by
// chromedp) holds a tab of the fixture app (test/fixtures/next-app, three
// real next builds) open across two activations on a two-host bed behind
// the L4 balancer, with nginx from next-deploy config nginx on every
// host, and checks that its Server Action and its client navigation keep
// working, that it lands on the new release after the window, and that
// without the window the Server Action fails. It needs root, the bed's
// tools, node and npm, and chromium; it takes minutes, so it runs under
// CI=true or with ND_E2E_NEXT=1.
package skew

// Package buildside holds the end-to-end test of the build side of a
// deploy, on a real Next.js app: build-standalone (npm ci, next build),
// postbuild-copy-static and pack through the real next-deploy binary, then
// the system's tar unpacks the artifact and node serves it. It has no
// code outside its tests.
package buildside

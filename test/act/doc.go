// Package act runs the example caller workflows (examples/workflows), as a
// user copies them, under nektos/act in host mode: offline, no Docker,
// against the real hosts of test/bed. The reusable workflows and actions
// come from this checkout (--local-repository org/next-deploy@v1=<repo>);
// only what needs GitHub itself (checkout, setup-node, artifact upload and
// download) is replaced by a local stand-in, in the test alone.
package act

// Package compat holds the compatibility matrix: the fixture app (App
// Router, and a Pages Router variant) with Next 13.5, 14, 15 and 16,
// installed by npm, pnpm and yarn (classic), and as an npm workspaces
// monorepo, each built twice (two releases) by the real CLI, packed,
// delivered to the test bed (the second release as a delta), activated,
// and checked through nginx: the page of the second release, and a chunk
// of the first.
//
// Each cell costs two next builds. Under CI=true a few cells run (ND_COMPAT
// unset or "ci"); ND_COMPAT=all runs every cell and writes the table to
// docs/compatibility.md (after each batch of four cells);
// ND_COMPAT=missing runs the cells the doc has no row for, to finish a
// run cut short; ND_COMPAT=13.5-npm-pages,16-yarn-app runs those.
// It has no code outside its tests.
package compat

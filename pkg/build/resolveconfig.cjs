// Prints next.config as `next build` will see it, through Next's own
// loader (next/dist/server/config): its defaults, its validation, a
// basePath turned into the assetPrefix, next.config.ts transpiled by Next
// 15+. build-standalone runs it before the build, in the app's directory,
// with the environment of the build, and refuses a config that cannot
// deploy in a second instead of after a build of minutes.
//
// loadConfig(phase, dir) is the call every version from 13.5 to 16 takes
// (their third argument differs and is left out). Next may log to stdout
// while it loads; the answer is the last line starting with the marker.
"use strict";
const dir = process.cwd();
const load = (m) => require(require.resolve(m, { paths: [dir] }));
const mark = "NEXT_DEPLOY_RESOLVED_CONFIG=";
(async () => {
  const { PHASE_PRODUCTION_BUILD } = load("next/dist/shared/lib/constants");
  const mod = load("next/dist/server/config");
  const loadConfig = typeof mod.default === "function" ? mod.default : mod;
  const c = await loadConfig(PHASE_PRODUCTION_BUILD, dir);
  const out = {
    output: c.output ?? "",
    assetPrefix: c.assetPrefix ?? "",
    basePath: c.basePath ?? "",
  };
  process.stdout.write("\n" + mark + JSON.stringify(out) + "\n");
  // The loader may leave workers or timers behind.
  process.exit(0);
})().catch((err) => {
  console.error((err && err.message) || String(err));
  process.exit(1);
});

// next-deploy: starts one app of an ecosystem under another name, so that
// an app pinned to a release can be replaced without downtime. Written and
// used by next-deploy activate; do not edit.
'use strict';
const c = require(process.env.NEXT_DEPLOY_ECOSYSTEM);
const apps = Array.isArray(c) ? c : (c && Array.isArray(c.apps) ? c.apps : [c]);
module.exports = {
  apps: apps
    .filter((a) => a.name === process.env.NEXT_DEPLOY_APP)
    .map((a) => Object.assign({}, a, { name: process.env.NEXT_DEPLOY_AS })),
};

// next-deploy:generated v1 sha256=67147ca55c8ed01230eb509d303a7e46cd8c786500dc6c69c052ea0f4601a121 settings={"root":"~/app","name":"shop","app_dir":"apps/web","hostname":"127.0.0.11","port":3000,"instances":"max","envs":["production","staging","my-env"],"listen_timeout":"30s","kill_timeout":"10s","drain":"2s","max_memory":"512M"}
// pm2 ecosystem for the next-deploy layout under "~/app"
// (written by next-deploy config pm2 or activate).
//
// The first line marks the file as next-deploy's: activate rewrites it
// when its flags ask for other settings (and says so), as long as nothing
// below that line changed. Once you edit it (your variables in an env_
// block) or remove that line, the file is yours: activate never rewrites
// it, and refuses flags that differ from it, naming each difference.
//
// cwd and script go through the current symlink, absolute and unresolved:
// pm2 keeps both exactly as given, so every reload starts the release that
// current points at. Run pm2 from the deploy root, never from inside a
// release:
//   cd "~/app" && pm2 start ecosystem.config.js --env "production"
//   cd "~/app" && pm2 reload ecosystem.config.js --env "production"
'use strict';

const root = require('os').homedir() + "/app";

module.exports = {
  apps: [
    {
      name: "shop",
      cwd: root + "/current/apps/web",
      script: root + "/current/apps/web/server.js",
      exec_mode: 'cluster',
      instances: "max",
      // Drain on SIGINT (keep-alive connections closed, in-flight requests
      // answered), 'ready' once the server listens (wait_ready), a memory
      // report for next-deploy status; a heap snapshot on SIGUSR2
      // into .next-deploy/heap (next-deploy heap-snapshot).
      node_args: [
        '--require', root + '/.next-deploy/drain.cjs',
        '--heapsnapshot-signal=SIGUSR2',
        '--diagnostic-dir=' + root + '/.next-deploy/heap',
      ],
      wait_ready: true,
      listen_timeout: 30000,
      kill_timeout: 10000,
      // A worker that crashes at start is retried with a growing delay
      // instead of being given up after 16 quick restarts.
      exp_backoff_restart_delay: 100,
      max_memory_restart: "512M",
      // The caller's variables that never belong in the app: a runner's
      // action inputs (the deploy key among them), tokens, and
      // RUNNER_TRACKING_ID (a self-hosted runner kills what carries it).
      filter_env: ["INPUT_", "GITHUB_", "RUNNER_", "ACTIONS_", "NEXT_DEPLOY_SSH_"],
      env: {
        NODE_ENV: 'production',
        HOSTNAME: "127.0.0.11",
        PORT: "3000",
        NEXT_DEPLOY_DRAIN_MS: "2000",
        NEXT_DEPLOY_DRAIN_TIMEOUT_MS: "8000",
      },
      // pm2 start|reload ecosystem.config.js --env "production": your variables here.
      "env_production": {
        NEXT_DEPLOY_ENV: "production",
      },
      // pm2 start|reload ecosystem.config.js --env "staging": your variables here.
      "env_staging": {
        NEXT_DEPLOY_ENV: "staging",
      },
      // pm2 start|reload ecosystem.config.js --env "my-env": your variables here.
      "env_my-env": {
        NEXT_DEPLOY_ENV: "my-env",
      },
    },
  ],
};

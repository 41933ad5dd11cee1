// skew-state.cjs reads pm2 jlist on stdin and prints the state of the app
// argv[1]: none, online (every worker), or broken. Run with node -e.
let s = '';
process.stdin.on('data', (d) => { s += d; }).on('end', () => {
  let list = [];
  for (const line of s.split('\n').reverse()) {
    if (!line.startsWith('[')) continue;
    try { list = JSON.parse(line); break; } catch (e) { /* a banner line */ }
  }
  const ps = list.filter((p) => p.name === process.argv[1]);
  const online = ps.filter((p) => (p.pm2_env || {}).status === 'online').length;
  process.stdout.write(ps.length === 0 ? 'none' : online === ps.length ? 'online' : 'broken');
});

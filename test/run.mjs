// Runs test/**/*.test.ts with uvu (or only the tiers named: unit, lua, integration, security,
// reliability, cluster) and closes with one plain line, "N passed, N failed", that CI can read.
// Fails when no test ran or any was skipped: CI must run them all.
import { spawn } from 'node:child_process';

const tiers = process.argv.slice(2).map((t) => t.replace(/^test\//, '').replace(/\/$/, ''));
const pattern = tiers.length === 0 ? '\\.test\\.ts$' : `^(${tiers.join('|')})/.*\\.test\\.ts$`;
const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
});
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const count = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? 0);
  const total = count('Total');
  const passed = count('Passed');
  const skipped = count('Skipped');
  console.log(`\ntests: ${passed} passed, ${total - passed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(code !== 0 || total === 0 || passed !== total || skipped > 0 ? 1 : 0);
});

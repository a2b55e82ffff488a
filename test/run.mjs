// Runs test/**/*.test.ts with uvu, or only the tiers named (each a folder of test/: unit, lua,
// integration, reliability, security, cluster, bench), and closes with one plain line,
// "tests: N passed, N failed", that CI can read. Fails when no test ran or any was skipped: CI
// must run them all. A failed run names each failed test (file, suite and test) in its last lines.
//
// The server matrix: `--servers DIR[,DIR...]` (or REDIS_SERVERS=DIR,DIR) runs the tiers that
// need a server (lua, integration, reliability, security, cluster by default) once per folder,
// with that folder's redis-server and redis-cli first on PATH, and reports per server. A build
// without TLS skips the TLS tests and says so in the summary.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, resolve } from 'node:path';

const SERVER_TIERS = ['lua', 'integration', 'reliability', 'security', 'cluster'];
const TLS_TESTS = 'security/tls.test.ts';

const args = process.argv.slice(2);
let servers = (process.env.REDIS_SERVERS ?? '').split(',').filter(Boolean);
const tiers = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--servers') servers = (args[++i] ?? '').split(',').filter(Boolean);
  else if (arg.startsWith('--servers=')) servers = arg.slice('--servers='.length).split(',').filter(Boolean);
  else tiers.push(arg.replace(/^test\//, '').replace(/\/$/, ''));
}

// ANSI colour codes: uvu prints them even with FORCE_COLOR=0.
// eslint-disable-next-line no-control-regex
const plain = (text) => text.replace(/\u001b\[[0-9;]*m/g, '');

/** Runs uvu over the files `pattern` matches; resolves with the counts and the failed tests. */
function runUvu(pattern, env) {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...env, FORCE_COLOR: '0' },
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code) => {
      const text = plain(out);
      const count = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
      // uvu prints each file's path, then its suites; a failure reads FAIL <suite> "<test>", then
      // the assertion's message and diff, then the stack. The message goes into the last lines
      // too: a CI log may keep only those.
      const failed = [];
      let file = '';
      let message;
      for (const line of text.split('\n')) {
        const header = /^(\S+\.test\.ts)\s*$/.exec(line.trim());
        if (header) file = header[1];
        const fail = /FAIL\s+(.*?)\s*"(.*)"\s*$/.exec(line);
        if (fail) {
          message = [];
          failed.push({ name: `${file}: ${fail[1].trim() || '(no suite)'} > ${fail[2]}`, message });
        } else if (message !== undefined) {
          if (/^\s+at /.test(line)) message = undefined;
          else if (line.trim() !== '' && message.length < 8) message.push(`      ${line.trim()}`);
        }
      }
      done({ code, total: count('Total'), passed: count('Passed'), skipped: count('Skipped'), failed });
    });
  });
}

function patternOf(names, exclude = []) {
  const files = `^(${names.join('|')})/.*\\.test\\.ts$`;
  if (exclude.length === 0) return files;
  return `^(?!(${exclude.map((f) => f.replace(/\./g, '\\.')).join('|')})$)(${names.join('|')})/.*\\.test\\.ts$`;
}

function bad(result) {
  return result.code !== 0 || result.total === 0 || result.passed !== result.total || result.skipped > 0;
}

function describeFailure(failure, lead) {
  return [`${lead}${failure.name}`, ...failure.message].join('\n');
}

function line(result) {
  const skipped = result.skipped ? `, ${result.skipped} skipped` : '';
  return `${result.passed} passed, ${result.total - result.passed} failed${skipped}`;
}

/** The server a folder holds, as it names itself, and whether it was built with TLS. */
function describeServer(dir) {
  const binary = resolve(dir, 'redis-server');
  if (!existsSync(binary) || !existsSync(resolve(dir, 'redis-cli'))) return undefined;
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const name = /^(\w+) server v=(\S+)/.exec(version);
  // A build without TLS refuses a TLS port at once; one with TLS fails on the missing certificate.
  const probe = spawnSync(binary, ['--port', '0', '--tls-port', '1', '--save', '', '--dir', tmpdir()], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const tls = !/Failed finding TLS support|Missing implement of connection type tls/.test(probe.stdout + probe.stderr);
  return { binary, label: name ? `${name[1]} ${name[2]}` : version, tls };
}

if (servers.length === 0) {
  const result = await runUvu(tiers.length === 0 ? '\\.test\\.ts$' : patternOf(tiers), process.env);
  if (result.failed.length > 0)
    console.log(`\nfailed:\n${result.failed.map((f) => describeFailure(f, '  ')).join('\n')}`);
  console.log(`\ntests: ${line(result)}`);
  process.exit(bad(result) ? 1 : 0);
}

const summary = [];
let passed = 0;
let failed = 0;
let anyBad = false;
for (const dir of servers) {
  const server = describeServer(dir);
  if (server === undefined) {
    summary.push(`${dir}: no redis-server and redis-cli there`);
    anyBad = true;
    continue;
  }
  const names = tiers.length === 0 ? SERVER_TIERS : tiers;
  const exclude = server.tls || !names.includes('security') ? [] : [TLS_TESTS];
  console.log(`\n=== ${basename(resolve(dir))}: ${server.label}${server.tls ? '' : ' (no TLS)'} ===\n`);
  const env = { ...process.env, PATH: `${resolve(dir)}${delimiter}${process.env.PATH ?? ''}` };
  const result = await runUvu(patternOf(names, exclude), env);
  passed += result.passed;
  failed += result.total - result.passed;
  anyBad ||= bad(result);
  const skippedTls = exclude.length > 0 ? `; ${TLS_TESTS} skipped: no TLS in this build` : '';
  summary.push(`${server.label} (${names.join(', ')}): ${line(result)}${skippedTls}`);
  for (const f of result.failed) summary.push(describeFailure(f, '  failed: '));
}
console.log(`\nserver matrix:\n${summary.map((s) => `  ${s}`).join('\n')}`);
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(anyBad ? 1 : 0);

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CASES } from '../../bench/cases.js';
import type { Results } from '../../bench/report.js';

// The benchmark suite end to end on a tiny budget: the files are produced and well formed.
// No speed is asserted here; speed is what `npm run bench` reports.
const test = suite('benchmark suite (smoke)');
const out = mkdtempSync(join(tmpdir(), 'rss-bench-'));

test.after(() => rmSync(out, { recursive: true, force: true }));

test('--quick on a tiny budget writes latest.json, latest.md and latest.svg', async () => {
  await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/run.ts',
      '--quick',
      '--duration-ms',
      '40',
      '--rounds',
      '1',
      '--scale',
      '500,1000',
      '--destroy-all',
      '1,10',
      '--memory-sessions',
      '300',
      '--out',
      out,
    ],
    { timeout: 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, REDIS_URL: undefined } },
  );
  const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Results;
  assert.ok(results.machine.cpus >= 1);
  assert.match(results.machine.redis, /^\d+\.\d+/);
  assert.match(results.machine.server ?? '', /^(Redis|Valkey) \d+\.\d+/, 'the results name the server');
  assert.equal([...new Set(results.throughput.map((r) => r.id))].sort(), CASES.map((c) => c.id).sort());
  for (const row of results.throughput) {
    assert.ok(Number.isFinite(row.perSecond.median) && row.perSecond.median > 0, `${row.id}@${row.level}`);
    assert.is(row.perRound.length, 1);
  }
  assert.equal([...new Set(results.throughput.map((r) => r.level))], [1, 16, 256]);
  assert.ok(results.latency.length >= 20 && results.latency.every((l) => l.p50Ms > 0 && l.p99Ms >= l.p50Ms));
  assert.ok(results.serverLimit.some((s) => s.test === 'GET' && s.pipeline === 16 && s.requestsPerSec > 0));
  assert.equal([...new Set(results.scaling.rows.map((r) => r.stored))], [500, 1000]);
  assert.ok(results.memory.every((m) => m.bytesPerSession > 0));
  assert.ok(
    results.targets && results.targets.length >= 10 && results.targets.every((t) => typeof t.met === 'boolean'),
  );

  const md = readFileSync(join(out, 'latest.md'), 'utf8');
  for (const heading of [
    '## Targets',
    '## Throughput',
    '## The store against its baselines',
    '## Latency',
    '## Scaling',
    '## Memory',
  ]) {
    assert.ok(md.includes(heading), heading);
  }
  const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.ok((svg.match(/<rect /g) ?? []).length >= 10, 'a bar per operation');
  assert.not.match(svg, /NaN|undefined/);
});

test.run();

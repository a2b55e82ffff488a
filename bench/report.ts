import type {
  LatencyRow,
  MemoryRow,
  Plan,
  ScalingRow,
  ServerLimitRow,
  ThroughputRow,
  UserScalingRow,
} from './sections.js';
import { COMPARISONS } from './cases.js';
import { summarize, type Spread } from './stats.js';

export interface Results {
  startedAt: string;
  finishedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    /** The server's own version. */
    redis: string;
    /** The server as it names itself ("Valkey 8.0.1"); absent in results of earlier releases. */
    server?: string;
    ioredis: string;
    connectRedis: string;
  };
  plan: Plan;
  payloadBytes: number;
  throughput: ThroughputRow[];
  latency: LatencyRow[];
  serverLimit: ServerLimitRow[];
  scaling: { rows: ScalingRow[]; users: UserScalingRow[] };
  memory: MemoryRow[];
  targets?: TargetRow[];
}

export interface TargetRow {
  target: string;
  goal: number;
  measured: Spread;
  met: boolean;
  lowerIsBetter?: boolean;
}

function row(results: Results, id: string, level: number): ThroughputRow | undefined {
  return results.throughput.find((r) => r.id === id && r.level === level);
}

/** Redis CPU per call of a over that of b, per round. */
export function cpuRatio(results: Results, a: string, b: string, level: number): Spread | undefined {
  const x = row(results, a, level);
  const y = row(results, b, level);
  if (!x?.redisUsPerCall || !y?.redisUsPerCall) return undefined;
  return summarize([x.redisUsPerCall.median / y.redisUsPerCall.median]);
}

/** The ratio a/b per round (rounds are interleaved, so paired), as median and range. */
export function ratio(results: Results, a: string, b: string, level: number): Spread | undefined {
  const x = row(results, a, level);
  const y = row(results, b, level);
  if (!x || !y) return undefined;
  return summarize(x.perRound.map((v, i) => v / (y.perRound[i] ?? NaN)));
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
const fmtRatio = (s: Spread | undefined) => (s ? `${fmt(s.median, 2)}x (${fmt(s.min, 2)}-${fmt(s.max, 2)})` : 'n/a');

export function computeTargets(results: Results): TargetRow[] {
  const t: TargetRow[] = [];
  const add = (target: string, goal: number, measured: Spread | undefined, higherIsBetter = true) => {
    if (measured)
      t.push({
        target,
        goal,
        measured,
        met: higherIsBetter ? measured.median >= goal : measured.median <= goal,
        lowerIsBetter: !higherIsBetter,
      });
  };
  add('getSession vs raw GET @256', 0.85, ratio(results, 'store.get', 'raw.get', 256));
  add('createSession vs raw SET EX @256', 0.6, ratio(results, 'store.create', 'raw.setex', 256));
  add('createSession vs MULTI store @256', 2, ratio(results, 'store.create', 'multi.create', 256));
  add('createSession vs naive store @256', 1.6, ratio(results, 'store.create', 'naive.create', 256));
  add(
    'getSessions(100) vs MGET(100) @256, sessions/s',
    0.5,
    ratio(results, 'store.getSessions100', 'raw.mget100', 256),
  );
  add('createSession vs naive store @1', 1.5, ratio(results, 'store.create', 'naive.create', 1));
  // The read path (issue 12): no script on a read, and a cache that Redis keeps exact.
  add('getSession (no cache) vs connect-redis get @256', 0.9, ratio(results, 'store.get', 'cr.get', 256));
  add('getSession (no cache) vs raw GET @256 (read-path goal)', 0.65, ratio(results, 'store.get', 'raw.get', 256));
  add('Redis CPU per getSession / per raw GET @256', 2, cpuRatio(results, 'store.get', 'raw.get', 256), false);
  add('getSession (cache hit) vs raw GET @256', 5, ratio(results, 'store.getCached', 'raw.get', 256));
  const hit = row(results, 'store.getCached', 256);
  if (hit) add('Redis commands per cache hit @256', 0.001, hit.redisCommandsPerCall, false);
  // The write path (issue 13): throughput against connect-redis at 16 and 256 in flight.
  for (const [store, cr, label, goal] of [
    ['store.create', 'cr.set', 'create vs connect-redis set', 1],
    ['store.get', 'cr.get', 'get vs connect-redis get', 1],
    ['store.refresh', 'cr.touch', 'refresh vs connect-redis touch', 0.8],
    ['store.destroy', 'cr.destroy', 'destroy vs connect-redis destroy', 0.8],
  ] as const) {
    for (const level of [16, 256]) add(`${label} @${level}`, goal, ratio(results, store, cr, level));
  }
  const sizes = [...new Set(results.scaling.rows.map((r) => r.stored))];
  const first = sizes[0];
  const last = sizes.at(-1);
  for (const op of ['get', 'create']) {
    const a = results.scaling.rows.find((r) => r.stored === last && r.operation === op);
    const b = results.scaling.rows.find((r) => r.stored === first && r.operation === op);
    if (a && b && first !== last)
      add(
        `${op} with ${fmt(last!)} stored vs ${fmt(first!)} stored`,
        0.9,
        summarize([a.perSecond.median / b.perSecond.median]),
      );
  }
  const cr = results.memory.find((m) => m.layout.startsWith('connect-redis'));
  for (const m of results.memory.filter((x) => x.layout.startsWith('store'))) {
    if (cr)
      add(
        `bytes per session (${m.layout.slice(7)}) vs connect-redis`,
        1.1,
        summarize([m.bytesPerSession / cr.bytesPerSession]),
        false,
      );
  }
  for (const [op, bare, store] of [
    ['get', 'bare.get', 'store.get'],
    ['create', 'bare.create', 'store.create'],
    ['refresh', 'bare.refresh', 'store.refresh'],
    ['destroy', 'bare.destroy', 'store.destroy'],
  ] as const) {
    const r = ratio(results, store, bare, 256);
    if (r) add(`metrics overhead on ${op} @256 (store with metrics / without)`, 0.95, r);
  }
  return t;
}

export function renderMarkdown(results: Results): string {
  const targets = (results.targets ??= computeTargets(results));
  const m = results.machine;
  const out: string[] = [];
  out.push(`# Benchmark results\n`);
  out.push(
    `${results.startedAt} | ${m.cpus} x ${m.cpuModel} | Node ${m.node} | ${m.server ?? `Redis ${m.redis}`} | ioredis ${m.ioredis} | connect-redis ${m.connectRedis}`,
  );
  out.push(
    `\n${results.plan.rounds} round(s) of ${results.plan.durationMs} ms per case and level; within a round each case runs right beside the cases it is compared with (alternating which goes first), and ratios are taken per round; figures are medians, ranges are min-max over rounds. Payload: user ~100 B, 2 metadata entries ~100 B (${results.payloadBytes} B as connect-redis JSON).\n`,
  );

  out.push(`## Targets\n\n| target | goal | measured (median, range) | |\n| --- | --- | --- | --- |`);
  for (const t of targets)
    out.push(
      `| ${t.target} | ${t.lowerIsBetter ? '<=' : '>='} ${fmt(t.goal, t.goal < 0.01 ? 3 : 2)} | ${fmtRatio(t.measured)} | ${t.met ? 'met' : '**missed**'} |`,
    );

  out.push(`\n## Throughput (operations per second; getSessions and MGET count sessions)\n`);
  const levels = results.plan.levels;
  out.push(
    `| case | ${levels.map((l) => `${l} in flight`).join(' | ')} | p50 / p99 ms @${levels.at(-1)} | Redis CPU µs per call @${levels.at(-1)} | Node CPU µs per call @${levels.at(-1)} | Redis commands per call |`,
  );
  out.push(`| --- | ${levels.map(() => '---').join(' | ')} | --- | --- | --- | --- |`);
  const ids = [...new Set(results.throughput.map((r) => r.id))];
  for (const id of ids) {
    const cells = levels.map((l) => {
      const r = row(results, id, l)!;
      return `${fmt(r.perSecond.median)} (±${fmt((r.perSecond.spread * 100) / 2, 0)}%)`;
    });
    const top = row(results, id, levels.at(-1)!)!;
    const cpu = top.redisUsPerCall;
    const node = top.nodeUsPerCall;
    const commands = top.redisCommandsPerCall;
    out.push(
      `| ${top.impl}: ${top.operation} | ${cells.join(' | ')} | ${fmt(top.p50Ms, 2)} / ${fmt(top.p99Ms, 2)} | ${cpu ? fmt(cpu.median, 2) : '-'} | ${node ? fmt(node.median, 2) : '-'} | ${commands ? fmt(commands.median, commands.median < 0.01 ? 4 : 2) : '-'} |`,
    );
  }

  out.push(`\n## The store against its baselines (ratio of throughput, median and range over rounds)\n`);
  out.push(`| store operation | baseline | ${levels.map((l) => `@${l}`).join(' | ')} |`);
  out.push(`| --- | --- | ${levels.map(() => '---').join(' | ')} |`);
  for (const [store, baselines] of Object.entries(COMPARISONS)) {
    for (const b of baselines) {
      const s = row(results, store, levels[0]!);
      const base = row(results, b, levels[0]!);
      if (!s || !base) continue;
      out.push(
        `| ${s.impl}: ${s.operation} | ${base.impl}: ${base.operation} | ${levels.map((l) => fmtRatio(ratio(results, store, b, l))).join(' | ')} |`,
      );
    }
  }

  out.push(
    `\n## Latency, one call at a time (tinybench)\n\n| task | p50 ms | p99 ms | ops/s | samples |\n| --- | --- | --- | --- | --- |`,
  );
  for (const l of results.latency)
    out.push(`| ${l.name} | ${fmt(l.p50Ms, 3)} | ${fmt(l.p99Ms, 3)} | ${fmt(l.opsPerSec)} | ${l.samples} |`);

  out.push(
    `\n## The server's own limit (redis-benchmark, 50 clients, same value size)\n\n| command | pipeline | requests/s |\n| --- | --- | --- |`,
  );
  for (const s of results.serverLimit) out.push(`| ${s.test} | ${s.pipeline} | ${fmt(s.requestsPerSec)} |`);

  out.push(
    `\n## Scaling with sessions stored (256 in flight)\n\n| operation | ${[...new Set(results.scaling.rows.map((r) => r.stored))].map((s) => `${fmt(s)} stored`).join(' | ')} |`,
  );
  const sizes = [...new Set(results.scaling.rows.map((r) => r.stored))];
  out.push(`| --- | ${sizes.map(() => '---').join(' | ')} |`);
  for (const op of [...new Set(results.scaling.rows.map((r) => r.operation))]) {
    out.push(
      `| ${op} | ${sizes.map((s) => fmt(results.scaling.rows.find((r) => r.stored === s && r.operation === op)?.perSecond.median ?? NaN)).join(' | ')} |`,
    );
  }
  out.push(
    `\n| user's sessions | ${sizes.map((s) => `destroyUserSessions ms (${fmt(s)} stored)`).join(' | ')} | ${sizes.map((s) => `count ms (${fmt(s)})`).join(' | ')} |`,
  );
  out.push(`| --- | ${sizes.map(() => '---').join(' | ')} | ${sizes.map(() => '---').join(' | ')} |`);
  for (const n of [...new Set(results.scaling.users.map((u) => u.sessionsOfUser))]) {
    const at = (s: number) => results.scaling.users.find((u) => u.stored === s && u.sessionsOfUser === n);
    out.push(
      `| ${n} | ${sizes.map((s) => fmt(at(s)?.destroyAllMs ?? NaN, 3)).join(' | ')} | ${sizes.map((s) => fmt(at(s)?.countMs ?? NaN, 3)).join(' | ')} |`,
    );
  }

  out.push(
    `\n## Memory (INFO used_memory delta, index included)\n\n| layout | sessions | bytes per session |\n| --- | --- | --- |`,
  );
  for (const x of results.memory) out.push(`| ${x.layout} | ${fmt(x.sessions)} | ${fmt(x.bytesPerSession)} |`);
  out.push('');
  return out.join('\n');
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar per store operation: its throughput as a ratio to its baseline at the highest level. */
export function renderSvg(results: Results): string {
  const level = results.plan.levels.at(-1)!;
  const bars = Object.entries(COMPARISONS)
    .filter(([store]) => store.startsWith('store.'))
    .map(([store, [baseline]]) => {
      const s = row(results, store, level);
      const b = row(results, baseline!, level);
      const r = ratio(results, store, baseline!, level);
      const cpu =
        s?.redisUsPerCall && b?.redisUsPerCall
          ? `Redis ${s.redisUsPerCall.median.toFixed(2)} µs/call vs ${b.redisUsPerCall.median.toFixed(2)}`
          : '';
      return s && b && r ? { label: `${s.operation}`, base: `${b.impl} ${b.operation}`, r, cpu } : undefined;
    })
    .filter((x): x is NonNullable<typeof x> => x !== undefined);
  // Each label has a line of its own above its bar: no name is ever cut off.
  const width = 900;
  const left = 20;
  const barH = 16;
  const rowH = barH + 26;
  const top = 64;
  const height = top + bars.length * rowH + 40;
  const max = Math.max(2, ...bars.map((b) => b.r.max)) * 1.05;
  const x = (v: number) => left + ((width - left - 80) * v) / max;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="20" y="26" font-size="17" font-weight="bold">redis-session-store: throughput as a ratio to its baseline (${level} in flight)</text>`,
    `<text x="20" y="46" fill="#555">${escapeXml(`${results.machine.cpus} CPUs, Node ${results.machine.node}, ${results.machine.server ?? `Redis ${results.machine.redis}`}; median of ${results.plan.rounds} round(s), whiskers = range; 1.0 = as fast as the baseline`)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH + 20;
    const color = b.r.median >= 1 ? '#2e7d32' : b.r.median >= 0.6 ? '#f9a825' : '#c62828';
    parts.push(
      `<text x="${left}" y="${y - 5}">${escapeXml(b.label)} <tspan fill="#777">vs ${escapeXml(b.base)}</tspan>${b.cpu ? ` <tspan fill="#1565c0">· ${escapeXml(b.cpu)}</tspan>` : ''}</text>`,
    );
    parts.push(
      `<rect x="${left}" y="${y}" width="${Math.max(1, x(b.r.median) - left)}" height="${barH}" fill="${color}" opacity="0.85"/>`,
    );
    parts.push(
      `<line x1="${x(b.r.min)}" x2="${x(b.r.max)}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#222" stroke-width="1.5"/>`,
    );
    parts.push(`<text x="${x(Math.max(b.r.max, b.r.median)) + 6}" y="${y + 13}">${b.r.median.toFixed(2)}x</text>`);
  });
  const bottom = top + bars.length * rowH + 10;
  parts.push(`<line x1="${x(1)}" x2="${x(1)}" y1="${top - 6}" y2="${bottom}" stroke="#000" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${x(1)}" y="${bottom + 16}" text-anchor="middle">1.0</text>`);
  parts.push(`<line x1="${left}" x2="${width - 80}" y1="${bottom}" y2="${bottom}" stroke="#999"/>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

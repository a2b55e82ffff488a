/**
 * `npm run bench:mix [-- --rounds N] [--batches N] [--server DIR]`
 * What a script costs Redis among plain reads, against what it costs in a run of itself. Each
 * batch is one pipeline of 40 commands, one batch in flight: 40 HGETs of session values; or 40
 * runs of one script; or that script at 4 (or 8) evenly spread places and HGETs around it. A
 * script's cost in a mix is the batch's Redis CPU less its HGETs' (at the all-HGET batch's price
 * measured right before and after it), divided by the script count. Scripts: `return 1`, a read-only script of
 * one HGET, and the store's refreshSession as shipped. `bench:cpu` prices each operation in a
 * run of itself; the capacity mix is 90% plain reads, which is why both are reported.
 * Writes results/script-mix[-<server>].md.
 */
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { luaScripts } from '../src/lua.generated.js';
import { tokenRef } from '../src/reader.js';
import { argOf } from './args.js';
import { redisCpuUs } from './cost.js';
import { benchMetadata, benchUser } from './payload.js';
import { writeResult } from './results-file.js';
import { benchRedis } from './server.js';
import { summarize, type Spread } from './stats.js';

const ROUNDS = Number(argOf('rounds') ?? 7);
const BATCHES = Number(argOf('batches') ?? 1000);
const BATCH = 40;
const SESSIONS = 2000;

const redis = await benchRedis();
const admin = new Redis(redis.url);
const raw = new Redis(redis.url);
const store = await RedisSessionStore.connect({ url: redis.url, metrics: { registry: new Registry() } });
const refs: { key: string; id: string }[] = [];
for (let i = 0; i < SESSIONS; i++) {
  const { token } = await store.createSession(benchUser(i), { metadata: benchMetadata });
  refs.push(tokenRef(store.options.keyPrefix, token)!);
}

const SCRIPTS = {
  'return 1': 'return 1',
  'one HGET (read-only script)': "return redis.call('HGET', KEYS[1], ARGV[1])",
  refreshSession: luaScripts.refreshSession.body,
} as const;
type ScriptName = keyof typeof SCRIPTS;
const shas = new Map<ScriptName, string>();
for (const [name, body] of Object.entries(SCRIPTS) as [ScriptName, string][])
  shas.set(name, (await admin.script('LOAD', body)) as string);

/** Redis CPU per batch: `scripts` runs of `sha` spread evenly among 40 commands, HGETs elsewhere. */
async function batchCost(sha: string | undefined, scripts: number): Promise<number> {
  const every = scripts === 0 ? 0 : BATCH / scripts;
  let k = 0;
  const before = await redisCpuUs(admin);
  for (let b = 0; b < BATCHES; b++) {
    const pipeline = raw.pipeline();
    for (let i = 0; i < BATCH; i++) {
      const { key, id } = refs[k++ % SESSIONS]!;
      // refreshSession's third argument is its TTL (0: keep); the others ignore it.
      if (sha !== undefined && every > 0 && i % every === 0) pipeline.evalsha(sha, 1, key, id, '0');
      else pipeline.hget(key, id);
    }
    await pipeline.exec();
  }
  return ((await redisCpuUs(admin)) - before) / BATCHES;
}

const SHARES = [BATCH, 8, 4] as const;
const perScript = new Map<string, number[]>();
const hgets: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const name of shas.keys()) {
    for (const scripts of round % 2 ? [...SHARES].reverse() : SHARES) {
      // The HGETs' price is measured right beside each mixed batch (before and after): the
      // script's share is the small difference of two large figures.
      const before = await batchCost(undefined, 0);
      const cost = await batchCost(shas.get(name), scripts);
      const after = await batchCost(undefined, 0);
      const hget = (before + after) / 2 / BATCH;
      hgets.push(hget);
      const key = `${name}|${scripts}`;
      perScript.set(key, [...(perScript.get(key) ?? []), (cost - hget * (BATCH - scripts)) / scripts]);
    }
  }
}

const f = (s: Spread) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
const lines = [
  `# A script among plain reads, on ${redis.label}`,
  '',
  `${new Date().toISOString()}: batches of ${BATCH} pipelined commands, one in flight, ${BATCHES} batches per measurement, medians of ${ROUNDS} rounds (ranges in brackets). Redis CPU from INFO CPU. An HGET of a session value costs ${f(summarize(hgets))} us here.`,
  '',
  '| script | us per run, 40 of 40 | 8 of 40 | 4 of 40 | 4 of 40 against 40 of 40 |',
  '| --- | --- | --- | --- | --- |',
  ...[...shas.keys()].map((name) => {
    const at = (n: number) => summarize(perScript.get(`${name}|${n}`)!);
    const ratio = summarize(perScript.get(`${name}|4`)!.map((x, i) => x / perScript.get(`${name}|${BATCH}`)![i]!));
    return `| ${name} | ${f(at(BATCH))} | ${f(at(8))} | ${f(at(4))} | ${f(ratio)}x |`;
  }),
  '',
];
const suffix = argOf('server') === undefined ? '' : `-${redis.label.toLowerCase().replace(/ /g, '-')}`;
writeResult(`script-mix${suffix}.md`, lines);
await store.close();
raw.disconnect();
admin.disconnect();
await redis.stop();

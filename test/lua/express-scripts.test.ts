import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { luaScripts, type ScriptName } from '../../src/lua.generated.js';
import { useRedis } from '../helpers/redis.js';

// The express-session adapter's scripts called directly: every documented reply.
const test = suite('lua express scripts');
const redis = useRedis(test);
const S = 'sess:abc';
const T = '{sess:abc}:destroyed';
const I = '{tag}:sess:by-user';
const run = (name: ScriptName, keys: string[], ...args: (string | number)[]) =>
  redis().admin.eval(luaScripts[name].body, keys.length, ...keys, ...args.map(String));

test('expressSet: 1 written with EX or without TTL; 0 refused after a destroy', async () => {
  assert.is(await run('expressSet', [S, T], '{"a":1}', 30), 1);
  assert.is(await redis().admin.get(S), '{"a":1}');
  assert.ok((await redis().admin.ttl(S)) <= 30);
  assert.is(await run('expressSet', [S, T], '{"a":2}', 0), 1);
  assert.is(await redis().admin.ttl(S), -1);
  assert.is(await run('expressDestroy', [S, T], 60_000), 1);
  assert.is(await run('expressSet', [S, T], '{"a":3}', 30), 0);
  assert.is(await redis().admin.exists(S), 0);
});

test('expressDestroy: 1 deleted, 0 absent; the tombstone lives as long as the session would have', async () => {
  await redis().admin.set(S, 'x', 'EX', 500);
  assert.is(await run('expressDestroy', [S, T], 1000), 1);
  assert.ok((await redis().admin.pttl(T)) > 400_000);
  assert.is(await run('expressDestroy', ['sess:none', '{sess:none}:destroyed'], 1000), 0);
  const left = await redis().admin.pttl('{sess:none}:destroyed');
  assert.ok(left > 0 && left <= 1000, 'the minimum lifetime applies to an absent session');
});

test('expressSetIndexed / expressTouchIndexed / expressDestroyIndexed keep the index exact', async () => {
  assert.is(await run('expressSetIndexed', [S, T, I], '{}', 30, 'abc'), 1);
  assert.is(await redis().admin.zcard(I), 1);
  const exp = Number(await redis().admin.zscore(I, 'abc'));
  assert.ok(Math.abs((await redis().admin.pexpiretime(I)) - exp) <= 1, 'index expires with its last session');
  assert.is(await run('expressTouchIndexed', [S, I], 90, 'abc'), 1);
  assert.ok(Number(await redis().admin.zscore(I, 'abc')) > exp);
  assert.is(
    await run('expressTouchIndexed', ['sess:gone', I], 90, 'gone'),
    0,
    'a missing session is not indexed by a touch',
  );
  assert.is(await redis().admin.zscore(I, 'gone'), null);
  assert.is(await run('expressSetIndexed', ['sess:forever', '{sess:forever}:destroyed', I], '{}', 0, 'forever'), 1);
  assert.is(await redis().admin.zscore(I, 'forever'), 'inf');
  assert.is(await redis().admin.ttl(I), -1, 'an index holding a TTL-less session does not expire');
  assert.is(await run('expressDestroyIndexed', ['sess:forever', '{sess:forever}:destroyed', I], 1000, 'forever'), 1);
  assert.ok((await redis().admin.ttl(I)) > 0, 'back to expiring with its last session');
  assert.is(await run('expressDestroyIndexed', [S, T, I], 1000, 'abc'), 1);
  assert.is(await redis().admin.exists(I), 0);
  assert.is(await run('expressSetIndexed', [S, T, I], '{}', 30, 'abc'), 0, 'refused after destroy');
  assert.is(await redis().admin.exists(I), 0, 'a refused write leaves the index alone');
  // Expired entries are pruned by the next write.
  await redis().admin.zadd(I, 1, 'ancient');
  await run('expressSetIndexed', ['sess:n', '{sess:n}:destroyed', I], '{}', 30, 'n');
  assert.equal(await redis().admin.zrange(I, '0', '-1'), ['n']);
});

test.run();

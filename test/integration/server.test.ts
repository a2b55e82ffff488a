import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreAuthError } from '../../src/index.js';
import { classifyError } from '../../src/errors.js';
import { serverLabel, serverOf } from '../../src/server.js';
import { systemRedisServer } from '../../tools/redis-server.js';
import { cli } from '../helpers/cli.js';
import { useRedis } from '../helpers/redis.js';
import { openStore } from '../helpers/store.js';

// What differs between servers (src/server.ts), checked against whichever server is on PATH:
// the server matrix (npm run test:servers) runs this file once per server build.
const test = suite('server differences');
const redis = useRedis(test);

// The binary names itself independently of INFO: "Redis server v=7.0.15 ..." or "Valkey server v=8.0.1 ...".
const [, binaryName, binaryVersion] = /^(\w+) server v=(\S+)/.exec(
  execFileSync(systemRedisServer(), ['--version'], { encoding: 'utf8' }),
)!;

test('identity: INFO read as the server names itself (Valkey also reports a Redis-compatible version)', async () => {
  const server = serverOf(await redis().admin.info('server'));
  assert.is(serverLabel(server), `${binaryName} ${binaryVersion}`);
  assert.is(server.name, binaryName!.toLowerCase());
  if (server.name === 'valkey') assert.is(server.redisVersion, '7.2.4');
  else assert.is(server.redisVersion, binaryVersion);
});

test('check prints the server it found; the metrics carry its name and version', async () => {
  const r = redis();
  const out = await cli(['check', '--url', r.url, '--json']);
  const checks = (JSON.parse(out.stdout) as { checks: { name: string; detail: string }[] }).checks;
  const version = checks.find((c) => c.name === 'version');
  assert.ok(version?.detail.startsWith(`${binaryName} ${binaryVersion}`), JSON.stringify(version));
  const registry = new Registry();
  const store = await openStore(r, { metrics: { registry } });
  try {
    const text = await registry.metrics();
    assert.match(text, `session_store_server_info{server="${binaryName!.toLowerCase()}",version="${binaryVersion}"} 1`);
  } finally {
    await store.close();
  }
});

test("a script's command or key refused by ACL is a StoreAuthError, however the server words it", async () => {
  const admin = redis().admin;
  await admin.call('ACL', 'SETUSER', 'scripted', 'on', '>pw', 'resetkeys', '~mine:*', '-@all', '+eval', '+hget');
  const user = new Redis({ host: redis().host, port: redis().port, username: 'scripted', password: 'pw' });
  try {
    for (const [script, key] of [
      ["return redis.call('GET', KEYS[1])", 'mine:x'], // a command the user lacks
      ["return redis.call('HGET', KEYS[1], 'f')", 'other:x'], // a key outside its patterns
    ] as const) {
      const err = await user.eval(script, 1, key).then(
        () => null,
        (e: Error) => e,
      );
      assert.ok(err !== null, `${script} on ${key} was allowed`);
      assert.instance(classifyError(err), StoreAuthError, err.message);
    }
  } finally {
    user.disconnect();
    await admin.call('ACL', 'DELUSER', 'scripted');
  }
});

test.run();

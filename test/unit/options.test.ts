import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigurationError } from '../../src/errors.js';
import { DEFAULT_PORT, DEFAULTS } from '../../src/config/options.js';
import { readEnv, resolveOptions } from '../../src/config/resolve.js';
import { throwsType } from '../helpers/assert.js';

const test = suite('options');

test('defaults', () => {
  const o = resolveOptions({}, {});
  assert.is(o.url, DEFAULTS.url);
  assert.is(o.keyPrefix, 'session:');
  assert.is(o.defaultTtl, 3600);
  assert.is(o.absoluteTtl, 0);
  assert.is(o.rolling, false);
  assert.is(o.touchAfterMs, 1000);
  assert.is(o.maxSessionsPerUser, 0);
  assert.is(o.maxConnections, 1);
  assert.is(o.commandTimeout, 1000);
  assert.is(o.maxMetadataBytes, 16384);
});

test('environment fills what options leave out, and only that', () => {
  const env = { REDIS_URL: 'rediss://h:6380', SESSION_TTL: '120', SESSION_KEY_PREFIX: 'app:', MAX_CONNECTIONS: '4' };
  const o = resolveOptions({}, env);
  assert.equal([o.url, o.defaultTtl, o.keyPrefix, o.maxConnections], ['rediss://h:6380', 120, 'app:', 4]);
  // An explicit option wins, and a malformed variable it overrides is not even read.
  const p = resolveOptions({ defaultTtl: 30 }, { SESSION_TTL: 'banana' });
  assert.is(p.defaultTtl, 30);
});

test('malformed environment values are rejected with the variable named', () => {
  for (const [name, raw] of [
    ['SESSION_TTL', '0'],
    ['SESSION_TTL', '-5'],
    ['SESSION_TTL', '1.5'],
    ['SESSION_TTL', '1e3'],
    ['SESSION_TTL', ''],
    ['SESSION_TTL', ' 60'],
    ['MAX_CONNECTIONS', 'ten'],
    ['MAX_CONNECTIONS', '0x10'],
  ] as const) {
    const err = throwsType(() => readEnv({ [name]: raw }), ConfigurationError) as ConfigurationError;
    assert.is(err.parameter, name);
  }
  for (const [name, raw] of [
    ['REDIS_URL', 'http://x'],
    ['REDIS_URL', 'not a url'],
    ['SESSION_KEY_PREFIX', 'a{b'],
    ['MAX_CONNECTIONS', '1000'],
  ] as const) {
    throwsType(() => resolveOptions({}, { [name]: raw }), ConfigurationError);
  }
});

test('option values are checked', () => {
  const bad: Record<string, unknown>[] = [
    { keyPrefix: 'x}' },
    { keyPrefix: 5 },
    { defaultTtl: 0 },
    { defaultTtl: 1.5 },
    { defaultTtl: '60' },
    { absoluteTtl: 0 },
    { absoluteTtl: 60, defaultTtl: 61 },
    { rolling: 'yes' },
    { touchAfter: -1 },
    { maxSessionsPerUser: 0 },
    { commandTimeout: 0 },
    { maxMetadataBytes: 1 },
    { logger: {} },
    { logger: null },
    { redisOptions: [] },
    { redisOptions: { keyPrefix: '{x}' } },
    { url: 'mysql://x' },
  ];
  for (const options of bad) throwsType(() => resolveOptions(options, {}), ConfigurationError);
  throwsType(() => resolveOptions(null as never, {}), ConfigurationError);
  // The built-in default TTL yields to a shorter absoluteTtl; an explicit longer one is an error (above).
  assert.is(resolveOptions({ absoluteTtl: 60 }, {}).defaultTtl, 60);
  assert.is(resolveOptions({ absoluteTtl: 7200 }, {}).defaultTtl, 3600);
});

test('topology: one URL, comma-separated cluster URLs, cluster seeds, Sentinels', () => {
  assert.equal(resolveOptions({}, { REDIS_URL: 'redis://a:1' }).topology, { kind: 'standalone', url: 'redis://a:1' });
  // Parsing only: no server behind these addresses. A URL without a port gets the default.
  const c = resolveOptions({}, { REDIS_URL: 'rediss://u%40x:p%3Aw@a:101, rediss://b:102,rediss://c' });
  assert.equal(c.topology, {
    kind: 'cluster',
    nodes: [
      { host: 'a', port: 101 },
      { host: 'b', port: 102 },
      { host: 'c', port: DEFAULT_PORT },
    ],
  });
  assert.equal(c.auth, { username: 'u@x', password: 'p:w', tls: {} }, 'credentials and TLS from the first URL');
  assert.not.ok(c.url.includes('p:w'), 'the password never appears in the description');
  const seeds = resolveOptions(
    { cluster: [{ host: 'n1', port: 103 }], password: 'pw' },
    { REDIS_URL: 'redis://ignored:1' },
  );
  assert.equal([seeds.topology.kind, seeds.auth], ['cluster', { password: 'pw' }]);
  const sentinel = resolveOptions({ sentinels: [{ host: 's', port: 104 }], name: 'mymaster' }, {});
  assert.equal(sentinel.topology, { kind: 'sentinel', sentinels: [{ host: 's', port: 104 }], name: 'mymaster' });
});

test('topology and replication options are checked', () => {
  const bad: [object, RegExp][] = [
    [{ url: 'redis://a:1', cluster: [{ host: 'b', port: 1 }] }, /only one of/],
    [{ cluster: [{ host: 'b', port: 1 }], sentinels: [{ host: 's', port: 1 }], name: 'm' }, /only one of/],
    [{ cluster: [] }, /non-empty array/],
    [{ cluster: [{ host: '', port: 1 }] }, /cluster\[0\]\.host/],
    [{ cluster: [{ host: 'a', port: 70000 }] }, /cluster\[0\]\.port/],
    [{ sentinels: [{ host: 's', port: 1 }] }, /name/],
    [{ name: 'm' }, /only used with sentinels/],
    [{ url: 'redis://a:1,rediss://b:2' }, /all use/],
    [{ url: 'redis://a:1,ftp://b' }, /url\[1\]/],
    [{ password: 5 }, /password/],
    [{ tls: 'yes' }, /tls/],
    [{ waitForReplicas: { replicas: 0, timeout: 100 } }, /replicas/],
    [{ waitForReplicas: { replicas: 1, timeout: 1000 } }, /timeout/],
    [{ waitForReplicas: true }, /waitForReplicas/],
  ];
  for (const [options, message] of bad) {
    const err = throwsType(() => resolveOptions(options, {}), ConfigurationError);
    assert.match(err.message, message, JSON.stringify(options));
  }
  assert.equal(resolveOptions({ waitForReplicas: { replicas: 2, timeout: 999 } }, {}).waitForReplicas, {
    replicas: 2,
    timeout: 999,
  });
});

test.run();

import { isTooOld } from '../../src/server.js';
const versions = suite('redis version');
versions('scripts need Redis 7.0 or newer', () => {
  for (const v of ['6.2.14', '6.0.0', '5.0.7', '2.8']) assert.ok(isTooOld(v), v);
  for (const v of ['7.0.0', '7.0.15', '7.2.4', '8.0.0', '10.1']) assert.not.ok(isTooOld(v), v);
});
versions.run();

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisSessionStore, StoreTlsError, StoreUnavailableError, type StoreOptions } from '../../src/index.js';
import { rejects } from '../helpers/assert.js';
import { freeServerPort } from '../../tools/redis-server.js';
import { cli } from '../helpers/cli.js';
import { commandCount, startRedis, type TestRedis } from '../helpers/redis.js';
import { makeCerts, type TestCerts } from '../helpers/tls.js';

// A redis-server that speaks TLS (and requires a client certificate) on one port, and plain
// text on another for the test's own admin client, with throwaway openssl certificates.
const test = suite('TLS');
let certs: TestCerts;
let r: TestRedis;
let tlsPort: number;

test.before(async () => {
  certs = await makeCerts();
  tlsPort = await freeServerPort();
  r = await startRedis([
    '--tls-port',
    String(tlsPort),
    '--tls-cert-file',
    certs.files.serverCert,
    '--tls-key-file',
    certs.files.serverKey,
    '--tls-ca-cert-file',
    certs.files.ca,
    '--tls-auth-clients',
    'yes',
  ]);
});

test.after(async () => {
  await r?.stop();
  certs?.remove();
});

const open = (options: StoreOptions) => RedisSessionStore.connect({ metrics: false, commandTimeout: 1000, ...options });

test('rediss:// with the right CA and client certificate: every operation works over TLS', async () => {
  for (const host of ['localhost', '127.0.0.1']) {
    const store = await open({
      url: `rediss://${host}:${tlsPort}`,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    try {
      const s = await store.createSession({ id: 'tls-user', username: 't' }, { metadata: { via: host } });
      assert.is((await store.getSession(s.token))?.metadata.via, host);
      assert.is((await store.getSessions([s.token]))[0]?.id, s.id);
      assert.ok(await store.refreshSession(s.token, 120));
      assert.is(await store.countUserSessions('tls-user'), 1);
      assert.ok(await store.destroySession(s.token));
      assert.is((await store.healthCheck()).healthy, true);
    } finally {
      await store.close();
    }
  }
  // The plain port is a different listener: the sessions above really went over the TLS one.
  const stats = await r.admin.info('stats');
  assert.ok(Number(/total_connections_received:(\d+)/.exec(stats)![1]) >= 3);
});

for (const [name, options, code] of [
  [
    'an unknown CA',
    () => ({
      url: `rediss://localhost:${tlsPort}`,
      tls: { ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey },
    }),
    /CERT|UNABLE_TO/,
  ],
  [
    'a host name the certificate does not name',
    () => ({
      url: `rediss://127.0.0.1:${tlsPort}`,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, servername: 'redis.example.com' },
    }),
    /ALTNAME|HOSTNAME/,
  ],
  [
    'no client certificate',
    () => ({ url: `rediss://localhost:${tlsPort}`, tls: { ca: certs.ca } }),
    /ERR_SSL|CERTIFICATE_REQUIRED|ECONNRESET/,
  ],
] as const) {
  test(`TLS with ${name} fails fast with StoreTlsError and sends no command`, async () => {
    const before = await commandCount(r.admin);
    const started = performance.now();
    const err = await open(options()).then(
      () => null,
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    assert.ok(err instanceof StoreTlsError, `got ${String(err)}`);
    assert.match(err.message, /TLS handshake/);
    assert.match(String((err.cause as { code?: string }).code), code);
    assert.ok(took < 2500, `${took.toFixed(0)} ms`);
    assert.is(await commandCount(r.admin), before, 'no command reached Redis');
  });
}

test('the command line over TLS: --tls-ca, --tls-cert and --tls-key with a rediss:// URL', async () => {
  const { join } = await import('node:path');
  const args = [
    '--url',
    `rediss://localhost:${tlsPort}`,
    '--tls-ca',
    certs.files.ca,
    '--tls-cert',
    join(certs.dir, 'client.crt'),
    '--tls-key',
    join(certs.dir, 'client.key'),
  ];
  const stats = await cli(['stats', '--json', ...args], {});
  assert.is(stats.code, 0, stats.stderr);
  assert.is((JSON.parse(stats.stdout) as { sessions: number }).sessions >= 0, true);
  // Without the client certificate the server refuses: reported as unreachable, in one line.
  const refused = await cli(['stats', ...args.slice(0, 4)], {});
  assert.is(refused.code, 3, refused.stderr);
  assert.is(refused.stderr.trim().split('\n').length, 1);
});

test('plain redis:// to the TLS port is a typed error, not a hang', async () => {
  const started = performance.now();
  await rejects(open({ url: `redis://127.0.0.1:${tlsPort}` }), StoreUnavailableError);
  assert.ok(performance.now() - started < 3000);
});

test.run();

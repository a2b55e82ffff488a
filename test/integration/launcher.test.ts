import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmbeddedRedis, systemRedisServer } from '../../tools/redis-server.js';
import { processAlive } from '../helpers/demo.js';

// The one launcher of throwaway servers (tools/redis-server.ts) can run the server under a
// wrapper command (bench:cpu --instructions runs it under callgrind). The PID it reports must be
// the server's own (stop and callgrind_control address it), and the wrapper's arguments must
// reach it intact, quotes and spaces included.
const test = suite('embedded redis-server launcher');

// The program a PID runs (redis-server rewrites its command line and environment into a title).
const binaryOf = (pid: number) => readlinkSync(`/proc/${pid}/exe`);
// Field 19 of /proc/<pid>/stat, counted after the parenthesised name.
const niceOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
const serverBinary = realpathSync(systemRedisServer());

test('under a wrapper: it ran with its arguments intact, the PID is the server, stop ends it', async () => {
  // nice(1) leaves a mark the server keeps; the shell starts the server only if its $0, with a
  // quote and spaces, arrived as given.
  const name = "it's a wrapped server";
  const check = `test "$0" = "it's a wrapped server" && exec "$@"`;
  const server = await startEmbeddedRedis(['--save', ''], undefined, ['nice', '-n', '7', 'sh', '-c', check, name]);
  try {
    const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      assert.is(await client.ping(), 'PONG');
    } finally {
      client.disconnect();
    }
    assert.is(binaryOf(server.pid), serverBinary, 'the PID is the server, not a shell or the wrapper');
    assert.is(niceOf(server.pid), Math.min(19, getPriority() + 7), 'it ran under nice -n 7');
  } finally {
    await server.stop();
  }
  assert.not.ok(processAlive(server.pid), 'stopped by its PID');
});

test('without a wrapper: the server is started directly, at this process priority', async () => {
  const server = await startEmbeddedRedis(['--save', '']);
  try {
    assert.is(binaryOf(server.pid), serverBinary);
    assert.is(niceOf(server.pid), getPriority());
  } finally {
    await server.stop();
  }
  assert.not.ok(processAlive(server.pid));
});

test.run();

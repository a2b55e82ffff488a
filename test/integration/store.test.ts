import { suite } from 'uvu';
import { standalone, type Deployment } from '../helpers/deployment.js';
import { functionalTests } from '../helpers/functional-suite.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// The whole functional suite runs once per protocol: ioredis 6 defaults to RESP3, many users pin
// RESP2. The same tests run on a real cluster (test/cluster) and as a least-privilege ACL user
// (test/security).
for (const protocol of [2, 3] as const) {
  const test = suite(`store (RESP${protocol})`);
  let r: TestRedis;
  let d: Deployment;
  test.before(async () => {
    r = await startRedis();
    d = standalone(r);
  });
  functionalTests(test, () => d, protocol);
  test.after(async () => {
    await r?.stop();
  });
  test.run();
}

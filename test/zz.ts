import { startRedis } from './helpers/redis.js';
import { aclRules, RedisSessionStore } from '../src/index.js';
const r = await startRedis();
try {
  await r.admin.call('ACL', 'SETUSER', 'sessions', 'reset', 'on', '>pw', ...aclRules(['session:']));
  const s = await RedisSessionStore.connect({ url: r.url, username: 'sessions', password: 'pw', metrics: false });
  console.log('ok'); await s.close();
} catch (e) { console.log('ERR', e); }
console.log(await r.admin.call('ACL', 'LOG'));
await r.stop(); process.exit(0);

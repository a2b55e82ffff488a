import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_COMMANDS, SCRIPT_COMMANDS, aclRules } from '../../src/acl.js';
import { luaScripts } from '../../src/lua.generated.js';

const test = suite('acl rules');

test("the ACL allows exactly the commands the store's scripts run, no more", () => {
  const used = new Set<string>();
  for (const [name, script] of Object.entries(luaScripts)) {
    if (name.startsWith('express')) continue;
    for (const m of script.body.matchAll(/redis\.p?call\('([A-Za-z]+)'/g)) used.add(m[1]!.toLowerCase());
  }
  assert.equal([...used].sort(), [...SCRIPT_COMMANDS].sort());
});

test('key patterns come from the prefixes, glob characters escaped; no dangerous command allowed', () => {
  const rules = aclRules(['session:', 'a*b?[c]\\']);
  assert.ok(rules.includes('~session:*'));
  assert.ok(rules.includes('~a\\*b\\?\\[c\\]\\\\*'));
  assert.ok(rules.includes('-@all') && rules.indexOf('-@all') < rules.indexOf('+evalsha'));
  for (const bad of [
    'flushall',
    'flushdb',
    'config',
    'keys',
    'script',
    'script|flush',
    'debug',
    'scan',
    'shutdown',
    'acl',
    'monitor',
  ]) {
    assert.not.ok(rules.includes(`+${bad}`), bad);
  }
  assert.ok((CLIENT_COMMANDS as readonly string[]).includes('script|load'));
  assert.throws(() => aclRules(['a{b}']), /must not contain/);
  assert.throws(() => aclRules(['s:'], { cache: 'yes' as never }), /options.cache/);
});

test('the cache adds tracking, CLIENT ID and one subscribe channel; without it, no channel at all', () => {
  const plain = aclRules();
  const cached = aclRules(['session:'], { cache: true });
  assert.not.ok(plain.some((r) => r.startsWith('&')));
  assert.not.ok(plain.includes('+subscribe'));
  assert.equal(
    cached.filter((r) => !plain.includes(r)),
    ['&__redis__:invalidate', '+client|tracking', '+client|id', '+subscribe'],
  );
  assert.ok(cached.indexOf('resetchannels') < cached.indexOf('&__redis__:invalidate'));
  assert.throws(() => aclRules([]), /non-empty/);
});

test.run();

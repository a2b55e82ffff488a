import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_COMMANDS, EXPRESS_SCRIPT_COMMANDS, SCRIPT_COMMANDS, aclRules, expressAclRules } from '../../src/acl.js';
import { InvalidInputError } from '../../src/errors.js';
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

test("the adapter's ACL allows exactly the commands its scripts run; keys are its three families per prefix", () => {
  const used = new Set<string>();
  for (const [name, script] of Object.entries(luaScripts)) {
    if (!name.startsWith('express')) continue;
    for (const m of script.body.matchAll(/redis\.p?call\('([A-Za-z]+)'/g)) used.add(m[1]!.toLowerCase());
  }
  assert.equal([...used].sort(), [...EXPRESS_SCRIPT_COMMANDS].sort());
  const rules = expressAclRules();
  assert.equal(
    rules.filter((r) => r.startsWith('~')),
    ['~sess:*', '~{sess:*}:destroyed', '~{*}:sess:by-user'],
  );
  assert.not.ok(
    rules.some((r) => r.startsWith('&')),
    'no channel without the cache',
  );
  const cached = expressAclRules(['sess:'], { cache: true });
  for (const c of ['+pexpiretime', '+client|tracking', '+subscribe', '&__redis__:invalidate'])
    assert.ok(cached.includes(c), c);
  for (const bad of ['+flushall', '+keys', '+config', '+script|flush', '+@all'])
    assert.not.ok(cached.includes(bad), bad);
  // aclRules covers the adapter too.
  assert.equal(aclRules(['sess:'], { express: true, cache: true }), cached);
  assert.equal(aclRules(['sess:', 'b:'], { express: true }), expressAclRules(['sess:', 'b:']));
  const invalid = (e: unknown) => e instanceof InvalidInputError;
  assert.throws(() => aclRules(['sess:'], { express: 'yes' as never }), invalid);
  assert.throws(() => expressAclRules([]), invalid);
  assert.throws(() => expressAclRules(['{x}']), invalid);
  assert.throws(() => expressAclRules(['sess:'], { cache: 'yes' as never }), invalid);
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

import { readdirSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { luaScripts } from '../../src/lua.generated.js';
import { ReplyCode } from '../../src/ops/codes.js';

const test = suite('lua contract');
const dir = new URL('../../lua/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));

test('one file per operation, named <name>-<numberOfKeys>.lua (or -n: any number), all generated', () => {
  assert.ok(files.length >= 10);
  assert.equal(files.map((f) => f.replace(/-(\d+|n)\.lua$/, '')).sort(), Object.keys(luaScripts).sort());
  for (const f of files) assert.match(f, /^\w+-(\d+|n)\.lua$/);
});

for (const file of files) {
  const source = readFileSync(new URL(file, dir), 'utf8');
  const count = /-(\d+|n)\.lua$/.exec(file)![1]!;
  // A -n script documents KEYS[1..n] and indexes KEYS only with a variable.
  const numberOfKeys = count === 'n' ? 0 : Number(count);
  const header = /^--\[\[([\s\S]*?)\]\]/m.exec(source)?.[1] ?? '';

  test(`${file}: #!lua shebang, header documents every KEYS and ARGV entry and the return`, () => {
    assert.ok(source.startsWith('#!lua'), 'shebang');
    assert.ok(source.split('\n')[1]!.startsWith('--'), 'comment block right after the shebang');
    if (count === 'n') assert.match(header, /KEYS\[1\.\.n\] /, 'KEYS[1..n] documented');
    for (let i = 1; i <= numberOfKeys; i++)
      assert.match(header, new RegExp(`KEYS\\[${i}\\] `), `KEYS[${i}] documented`);
    if (count !== 'n')
      assert.not.match(header, new RegExp(`KEYS\\[${numberOfKeys + 1}\\]`), 'no more KEYS than the name says');
    const used = new Set([...source.matchAll(/ARGV\[(\d+)\]/g)].map((m) => Number(m[1])));
    for (const i of used) assert.match(header, new RegExp(`ARGV\\[${i}\\] `), `ARGV[${i}] documented`);
    const keysUsed = [...source.replace(/--\[\[[\s\S]*?\]\]/, '').matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
    assert.ok(
      keysUsed.every((i) => i <= numberOfKeys),
      'no KEYS beyond the declared count',
    );
    assert.match(header, /Returns/);
  });

  test(`${file}: its "Codes:" line names codes of the one table, and "Calls" states the common path`, () => {
    const codes = /Codes: ([\s\S]*?)\.\n\s*Calls/.exec(header)?.[1];
    assert.ok(codes !== undefined, 'a "Codes:" line followed by a "Calls" line');
    assert.match(header, /Calls on the common path: \d/);
    const body = source.replace(/--\[\[[\s\S]*?\]\]/, '');
    const named = codes === 'none' ? [] : [...codes.matchAll(/(-?\d+) ([A-Z_]+)/g)];
    if (codes !== 'none') assert.ok(named.length > 0, `codes listed as "<n> NAME": ${codes}`);
    for (const [, n, name] of named) {
      assert.is(ReplyCode[name as keyof typeof ReplyCode], Number(n), `${name} is ${n} in src/ops/codes.ts`);
      assert.match(body, new RegExp(`return ${n}\\b`), `the script returns ${n}`);
    }
    // A code of the table that the header does not list is never returned.
    const listed = new Set(named.map(([, n]) => Number(n)));
    for (const [name, n] of Object.entries(ReplyCode)) {
      if (listed.has(n)) continue;
      assert.not.match(body, new RegExp(`return ${n}(?![\\d.])`), `returns ${n} (${name}) without listing it`);
    }
  });

  test(`${file}: every key comes from KEYS, none is built in Lua`, () => {
    const code = source.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');
    // The first argument of each call must be a KEYS entry or a name bound to one.
    const keyNames = new Set(['key']);
    for (const m of code.matchAll(/redis\.call\('(\w+)'(?:,\s*([^,)]+))?/g)) {
      const command = m[1]!;
      if (command === 'TIME') continue;
      const first = m[2]!.trim();
      assert.ok(
        /^KEYS\[\d\]$/.test(first) || keyNames.has(first),
        `${command} key argument "${first}" is not from KEYS`,
      );
    }
    assert.not.match(code, /\.\.\s*KEYS|KEYS\[\d\]\s*\.\./, 'no key concatenation');
  });
}

test('shared helpers only take keys as parameters', () => {
  const includes = new URL('../../lua/includes/', import.meta.url);
  for (const f of readdirSync(includes)) {
    const code = readFileSync(new URL(f, includes), 'utf8').replace(/--.*$/gm, '');
    for (const m of code.matchAll(/redis\.call\('(\w+)'(?:,\s*([^,)]+))?/g)) {
      if (m[1] === 'TIME') continue;
      assert.ok(['key', 'indexKey'].includes(m[2]!.trim()), `${f}: ${m[1]} on ${m[2]}`);
    }
  }
});

test('each generated script defines the included helpers it calls, and no other', () => {
  const includes = new URL('../../lua/includes/', import.meta.url);
  const helpers = readdirSync(includes).flatMap((f) =>
    [...readFileSync(new URL(f, includes), 'utf8').matchAll(/^local function (\w+)\(/gm)].map((m) => m[1]!),
  );
  assert.ok(helpers.includes('storeSession') && helpers.includes('nowMs'), 'the includes were read');
  for (const [name, { body }] of Object.entries(luaScripts)) {
    const code = body.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');
    for (const fn of helpers) {
      const defined = new RegExp(`^local function ${fn}\\(`, 'm').test(code);
      const calls = code.match(new RegExp(`(^|[^\\w.:])${fn}\\(`, 'gm'))?.length ?? 0;
      const called = calls - (defined ? 1 : 0) > 0;
      assert.is(
        defined,
        called,
        `${name}: ${fn}() is ${called ? 'called' : 'not called'} but ${defined ? 'defined' : 'missing'}`,
      );
    }
  }
  // Spot checks written out by hand: a destroy reads only the expiry; a refresh builds a value.
  const defines = (name: keyof typeof luaScripts) =>
    [...luaScripts[name].body.matchAll(/^local function (\w+)\(/gm)].map((m) => m[1]).sort();
  assert.equal(defines('destroySession'), ['expiryOf']);
  assert.equal(defines('refreshSession'), [
    'buildValue',
    'expiryAt',
    'headerFields',
    'int',
    'nowMs',
    'parseMeta',
    'storeBare',
    'storeSession',
  ]);
});

test.run();

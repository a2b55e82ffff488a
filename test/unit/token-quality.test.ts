import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newToken, TOKEN_PATTERN, userTag } from '../../src/keys.js';

const test = suite('token quality');

test('token quality: 1,000,000 tokens, 0 duplicates, fixed length and alphabet', () => {
  const n = 1_000_000;
  const seen = new Set<string>();
  const tag = userTag('quality');
  let malformed = 0;
  for (let i = 0; i < n; i++) {
    const t = newToken(tag).slice(23);
    if (t.length !== 43 || !TOKEN_PATTERN.test(`${tag}.${t}`)) malformed++;
    seen.add(t);
  }
  console.log(`    ${n.toLocaleString('en')} tokens: ${n - seen.size} duplicates, ${malformed} malformed`);
  assert.is(seen.size, n);
  assert.is(malformed, 0);
});

test.run();

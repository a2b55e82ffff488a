import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSession } from '../../src/codec.js';
import { CorruptSessionError } from '../../src/errors.js';
import { throwsType } from '../helpers/assert.js';

const test = suite('codec');
const user = '{"id":"u1","username":"ann","n":12345678901234567}';

test('decodes the stored value format', () => {
  const s = decodeSession('sid', `1|100|200|60|0|{"a":"b|c\\n"}\n${user}`, '9000');
  assert.equal(s, {
    id: 'sid', userId: 'u1', user: JSON.parse(user), createdAt: 100, lastAccessedAt: 200, expiresAt: 9000, metadata: { a: 'b|c\n' },
  });
});

test('anything malformed is CorruptSessionError, never a partial session', () => {
  const bad: [unknown, unknown][] = [
    [null, 1], [42, 1], ['', 1], ['2|1|1|1|0|{}\n' + user, 1], ['1|x|1|1|0|{}\n' + user, 1], ['1|1|1|1|0|{}' + user, 1],
    ['1|1|1|1|0|{"a":1}\n' + user, 1], ['1|1|1|1|0|[]\n' + user, 1], ['1|1|1|1|0|{}\n{"id":"u"}', 1], ['1|1|1|1|0|{}\n{"username":"n"}', 1],
    ['1|1|1|1|0|{}\n{bad json', 1], ['1|1|1|1|0|{}\n' + user, 'x'], ['1|1|1|0|{}\n' + user, 1], ['1|-1|1|1|0|{}\n' + user, 1],
    ['1|1|1|1|0|{"__proto__":"x"}\n' + user, 1], ['1|1|1|1|0|{}\n{"id":"u","username":"n","__proto__":{"isAdmin":true}}', 1],
    ['1|1|1|1|0|{}\n{"id":"u","username":"n","a":{"constructor" : {}}}', 1],
  ];
  for (const [value, exp] of bad) throwsType(() => decodeSession('sid', value, exp), CorruptSessionError);
  assert.is(({} as Record<string, unknown>).isAdmin, undefined);
});

test('a key name inside a string value is not mistaken for a forbidden key', () => {
  const s = decodeSession('sid', '1|1|1|1|0|{"note":"\\"constructor\\": x"}\n' + user, 5);
  assert.is(s.metadata.note, '"constructor": x');
});

test.run();

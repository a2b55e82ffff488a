import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSession } from '../../src/codec.js';
import { CorruptSessionError } from '../../src/errors.js';
import { throwsType } from '../helpers/assert.js';

const test = suite('codec');
const user = '{"id":"u1","username":"ann","n":12345678901234567}';

test('decodes the stored value format', () => {
  const s = decodeSession('sid', `1|9000|100|200|60|0|{"a":"b|c\\n"}\n${user}`);
  assert.equal(s, {
    id: 'sid',
    userId: 'u1',
    user: JSON.parse(user),
    createdAt: 100,
    lastAccessedAt: 200,
    expiresAt: 9000,
    metadata: { a: 'b|c\n' },
  });
});

test('anything malformed is CorruptSessionError, never a partial session', () => {
  const bad: unknown[] = [
    null,
    42,
    '',
    '2|9|1|1|1|0|{}\n' + user,
    '1|9|x|1|1|0|{}\n' + user,
    '1|9|1|1|1|0|{}' + user,
    '1|9|1|1|1|0|{"a":1}\n' + user,
    '1|9|1|1|1|0|[]\n' + user,
    '1|9|1|1|1|0|{}\n{"id":"u"}',
    '1|9|1|1|1|0|{}\n{"username":"n"}',
    '1|9|1|1|1|0|{}\n{bad json',
    '1|x|1|1|1|0|{}\n' + user,
    '1|9|1|1|0|{}\n' + user,
    '1|9|-1|1|1|0|{}\n' + user,
    '1|9|1|1|1|0|{"__proto__":"x"}\n' + user,
    '1|9|1|1|1|0|{}\n{"id":"u","username":"n","__proto__":{"isAdmin":true}}',
    '1|9|1|1|1|0|{}\n{"id":"u","username":"n","a":{"constructor" : {}}}',
  ];
  for (const value of bad) throwsType(() => decodeSession('sid', value), CorruptSessionError);
  assert.is(({} as Record<string, unknown>).isAdmin, undefined);
});

test('a key name inside a string value is not mistaken for a forbidden key', () => {
  const s = decodeSession('sid', '1|5|1|1|1|0|{"note":"\\"constructor\\": x"}\n' + user);
  assert.is(s.metadata.note, '"constructor": x');
});

test.run();

import * as assert from 'uvu/assert';

type ErrorClass = abstract new (...args: never[]) => Error;

/** Awaits a promise that must reject with `Class` (uvu's assert.throws is synchronous only). */
export async function rejects<E extends Error>(
  work: Promise<unknown> | (() => Promise<unknown>),
  Class: ErrorClass,
  code?: string,
): Promise<E> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    assert.instance(err, Class, `expected ${Class.name}, got ${String(err)}`);
    if (code !== undefined) assert.is((err as { code?: string }).code, code);
    return err as E;
  }
  throw new assert.Assertion({
    message: `expected a rejection with ${Class.name}, but it resolved`,
    generated: false,
    operator: 'rejects',
    expects: Class.name,
    actual: 'resolved',
  });
}

/** Synchronous counterpart: the call must throw `Class`. */
export function throwsType(fn: () => unknown, Class: ErrorClass): Error {
  try {
    fn();
  } catch (err) {
    assert.instance(err, Class, `expected ${Class.name}, got ${String(err)}`);
    return err as Error;
  }
  throw new assert.Assertion({
    message: `expected ${Class.name} to be thrown`,
    generated: false,
    operator: 'throws',
    expects: Class.name,
    actual: 'returned',
  });
}

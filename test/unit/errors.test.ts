import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { aclRules } from '../../src/acl.js';
import {
  classifyError,
  CorruptSessionError,
  InvalidInputError,
  SessionStoreError,
  StoreAuthError,
  StoreReplicationError,
  StoreTimeoutError,
  StoreTlsError,
  StoreUnavailableError,
} from '../../src/errors.js';
import { OUTCOMES, outcomeOf } from '../../src/operations.js';

const test = suite('error classification');

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

test('TLS handshake failures are StoreTlsError, whatever OpenSSL or Node calls them', () => {
  for (const code of [
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'CERT_HAS_EXPIRED',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  ]) {
    const typed = classifyError(withCode('handshake', code));
    assert.instance(typed, StoreTlsError, code);
    assert.is(typed.code, 'STORE_TLS');
    assert.match(typed.message, code);
  }
});

test('cluster clients giving up are StoreUnavailableError; auth refusals are StoreAuthError', () => {
  for (const message of [
    'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
    'Command aborted due to connection close',
    'MOVED 1234 127.0.0.1:101',
    'TRYAGAIN Multiple keys request during rehashing of slot',
  ]) {
    assert.instance(classifyError(new Error(message)), StoreUnavailableError, message);
  }
  assert.instance(classifyError(withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED')), StoreUnavailableError);
  assert.instance(
    classifyError(new Error('WRONGPASS invalid username-password pair or user is disabled.')),
    StoreAuthError,
  );
  assert.instance(
    classifyError(new Error("NOPERM this user has no permissions to run the 'flushall' command")),
    StoreAuthError,
  );
});

test('metrics outcome by class: every StoreUnavailableError is unavailable, replication shortfalls included', () => {
  const unavailable = OUTCOMES.indexOf('unavailable');
  assert.is(outcomeOf(new StoreReplicationError(2, 1)), unavailable);
  assert.is(outcomeOf(new StoreTimeoutError(10)), unavailable);
  assert.is(outcomeOf(new StoreUnavailableError('down')), unavailable);
  assert.is(outcomeOf(new InvalidInputError('ttl', 'bad')), OUTCOMES.indexOf('invalid_input'));
  assert.is(outcomeOf(new CorruptSessionError('x')), OUTCOMES.indexOf('error'));
  // A plain object that only claims the code is not an unavailability.
  assert.is(outcomeOf({ code: 'STORE_UNAVAILABLE' }), OUTCOMES.indexOf('error'));
});

test('aclRules: bad prefixes are typed store errors, not plain TypeErrors', () => {
  for (const bad of [[], 'session:', null, ['{x}']]) {
    assert.throws(
      () => aclRules(bad as never),
      (e: unknown) => e instanceof SessionStoreError && (e.code === 'INVALID_INPUT' || e.code === 'INVALID_CONFIG'),
    );
  }
});

test.run();

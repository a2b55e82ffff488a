import * as assert from 'uvu/assert';
import type { RedisSessionStore } from '../../src/index.js';
import { audit, errorSummary, mixedLoad } from './mixed-load.js';

/** When the fault script killed the master, saw a replica promoted, and saw the old master back as a replica. */
export interface FailoverMarks {
  killedAt: number;
  promotedAt: number;
  rejoinedAt: number;
}

/**
 * Runs a 16-client mixed load while `fault` kills and replaces a master, then prints the figures
 * (failures by phase, longest stall without any success) and asserts what must hold with
 * waitForReplicas: typed errors only, and no acknowledged write lost, resurrected or unindexed.
 */
export async function failoverUnderLoad(
  label: string,
  store: RedisSessionStore,
  fault: (marks: FailoverMarks) => Promise<void>,
): Promise<void> {
  const marks: FailoverMarks = { killedAt: 0, promotedAt: 0, rejoinedAt: 0 };
  const calls: { started: number; ended: number; ok: boolean; code?: string }[] = [];
  const faulted = fault(marks);
  const rec = await mixedLoad({
    store,
    workers: 16,
    users: 200,
    until: faulted,
    // Writes fail fast (StoreReplicationError) while a replica is missing: back off like a client would.
    pauseAfterErrorMs: 20,
    onCall: (started, ended, ok, _v, err) =>
      calls.push({ started, ended, ok, code: (err as { code?: string } | undefined)?.code }),
  });
  await faulted;
  const result = await audit(store, rec);
  const { killedAt, promotedAt, rejoinedAt } = marks;
  const successes = calls.filter((x) => x.ended >= killedAt && x.ok).map((x) => x.ended);
  let stall = successes.length > 0 ? successes[0]! - killedAt : Infinity;
  for (let i = 1; i < successes.length; i++) stall = Math.max(stall, successes[i]! - successes[i - 1]!);
  // A call is in the phase it ended in; `since` counts only the calls that also started in it.
  const phase = (from: number, to: number, since = false) =>
    errorSummary(
      calls
        .filter((x) => !x.ok && x.ended >= from && x.ended < to && (!since || x.started >= from))
        .reduce((m, x) => m.set(x.code!, (m.get(x.code!) ?? 0) + 1), new Map<string, number>()),
    );
  const report =
    `    ${label} failover: promoted ${(promotedAt - killedAt).toFixed(0)} ms after kill -9, old master back as replica at ` +
    `${(rejoinedAt - killedAt).toFixed(0)} ms; ${rec.ops} ops; longest stall without any success ${stall.toFixed(0)} ms, ` +
    `max call ${rec.maxCallMs.toFixed(0)} ms; checked ${result.checked}, lost ${result.lost}, resurrected ${result.resurrected}, ` +
    `unindexed ${result.unindexed}, false "not found" ${rec.falseAbsent}\n` +
    `      failures until promotion: ${phase(killedAt, promotedAt)}; until the old master is a replica again: ` +
    `${phase(promotedAt, rejoinedAt)}; after: ${phase(rejoinedAt, Infinity)} (calls sent after: ${phase(rejoinedAt, Infinity, true)})`;
  console.log(report);
  // Each message carries the report: a CI log may keep only the failure's own lines.
  const because = (what: string) => `${what}\n${report}`;
  for (const code of rec.errors.keys()) assert.ok(code.startsWith('STORE_'), because(`typed errors only, got ${code}`));
  assert.ok(result.checked > 100, because(`checked ${result.checked}`));
  assert.is(result.lost, 0, because('every write confirmed by a replica survived the failover'));
  assert.is(result.resurrected, 0, because('no destroyed session came back'));
  assert.is(result.unindexed, 0, because('every live session is in its user index'));
  assert.is(rec.falseAbsent, 0, because('no live session read as not found'));
  // A call is judged by when it was sent: one sent while the replica was away may end just after
  // the rejoin with the outage's error (seen in a cluster run: one STORE_TIMEOUT after the
  // rejoin, from a call sent before it). One sent after must succeed.
  assert.is(phase(rejoinedAt, Infinity, true), 'none', because('no failures of calls sent once replicas are back'));
}

/**
 * Realistic traffic against the demo service: users log in, read their session many times,
 * patch metadata, list and revoke devices, refresh, log out, log out everywhere; a few requests
 * are bad on purpose (400) or use dead tokens (401). Bounded by count and time; loopback only.
 */
export interface LoadOptions {
  baseUrl: string;
  durationMs: number;
  concurrency?: number;
  /** Stop early after this many requests. */
  maxRequests?: number;
  signal?: AbortSignal;
}

export interface LoadReport {
  requests: number;
  byStatus: Record<number, number>;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const { baseUrl, durationMs, concurrency = 8, maxRequests = Number.MAX_SAFE_INTEGER, signal } = options;
  const deadline = Date.now() + durationMs;
  const report: LoadReport = { requests: 0, byStatus: {} };
  const more = () => Date.now() < deadline && report.requests < maxRequests && !signal?.aborted;

  async function call(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    report.requests++;
    report.byStatus[res.status] = (report.byStatus[res.status] ?? 0) + 1;
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
  }

  const recent: string[] = [];
  async function user(worker: number): Promise<void> {
    for (let round = 0; more(); round++) {
      const userId = `user-${worker}-${round % 5}`;
      const login = await call('POST', '/login', undefined, { userId, username: `User ${worker}` });
      const token = (login.json as { token?: string }).token;
      if (!token) continue;
      recent.push(token);
      if (recent.length > 50) recent.shift();
      if (round % 3 === 0)
        await call('POST', '/sessions/check', undefined, { tokens: recent.slice(-(1 + (round % 40))) });
      for (let i = 0; i < 10 && more(); i++) await call('GET', '/session', token);
      await call('PATCH', '/session/metadata', token, { theme: round % 2 ? 'dark' : 'light', page: String(round) });
      const list = await call('GET', '/sessions', token);
      await call('POST', '/session/refresh', token, {});
      const others = ((list.json as { sessions?: { id: string; current: boolean }[] }).sessions ?? []).filter(
        (s) => !s.current,
      );
      if (others.length > 3) await call('DELETE', `/sessions/${others[0]!.id}`, token);
      if (round % 7 === 0) await call('POST', '/login', undefined, { userId: '', username: 'x' }); // 400
      if (round % 5 === 0) await call('GET', '/session', `${token.slice(0, -4)}AAAA`); // 401
      if (round % 11 === 0) await call('POST', '/logout-all', token, { keepCurrent: true });
      await call('POST', '/logout', token);
    }
  }

  await Promise.all(Array.from({ length: concurrency }, (_, w) => user(w)));
  return report;
}

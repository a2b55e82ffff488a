import type { ResolvedOptions } from './config/resolve.js';
import type { Topology } from './config/topology.js';

/**
 * What `store.options` shows: the resolved settings without anything secret. The password (an
 * option, inside the URL, or inside `redisOptions`) and the TLS key never appear, so a logged or
 * serialised store cannot leak them.
 */
export type StoreSettings = Readonly<
  Omit<ResolvedOptions, 'auth' | 'redisOptions' | 'clusterOptions' | 'logger' | 'metrics' | 'topology'> & {
    topology: Topology;
    /** Who the store authenticates as, and whether it uses TLS; never the password. */
    auth: { username?: string; password: boolean; tls: boolean };
    metrics: boolean;
  }
>;

/** A `redis://user:password@host` URL with the password replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:@/]*):[^@/]*@/g, '$1:***@');
}

export function redactedOptions(o: ResolvedOptions): StoreSettings {
  const { auth, redisOptions, clusterOptions: _c, logger: _l, metrics, topology, ...plain } = o;
  const password =
    auth.password !== undefined || redisOptions.password !== undefined || /\/\/[^@/]*:[^@/]+@/.test(o.url);
  return Object.freeze({
    ...plain,
    url: redactUrl(o.url),
    topology: topology.kind === 'standalone' ? { kind: 'standalone' as const, url: redactUrl(topology.url) } : topology,
    auth: {
      ...(auth.username === undefined ? {} : { username: auth.username }),
      password,
      tls: auth.tls !== undefined,
    },
    metrics: metrics !== false,
  });
}

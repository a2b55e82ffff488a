import type { ConnectionOptions } from 'node:tls';
import { ConfigurationError } from '../errors.js';
import { DEFAULT_PORT, DEFAULTS, type NodeAddress, type StoreOptions } from './options.js';
import { clean, describe, integer, optionalString, plainObject } from './values.js';

/** Where the store connects: one server, a cluster, or the master of a Sentinel group. */
export type Topology =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: NodeAddress[] }
  | { kind: 'sentinel'; sentinels: NodeAddress[]; name: string };

/** Credentials and TLS, from the options or the URL; applied to every node. */
export interface Auth {
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

export function urlOption(value: unknown, name = 'url'): URL {
  if (typeof value !== 'string') throw new ConfigurationError(name, `expected a string, got ${describe(value)}`);
  let parsed: URL;
  try {
    parsed = new URL(value.trim());
  } catch (cause) {
    throw new ConfigurationError(name, 'not a valid URL (expected redis://host:port or rediss://host:port)', { cause });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigurationError(name, `expected the redis: or rediss: scheme, got ${parsed.protocol}`);
  }
  return parsed;
}

type TopologyInput = Pick<StoreOptions, 'url' | 'cluster' | 'sentinels' | 'name' | 'username' | 'password' | 'tls'>;

/**
 * One of `url` (one URL, or a comma-separated list of cluster seeds), `cluster` or `sentinels`.
 * Credentials and TLS come from the options, else from the (first) URL, and apply to every node.
 */
export function topologyOptions(o: TopologyInput): { topology: Topology; url: string; auth: Auth } {
  const given = (['url', 'cluster', 'sentinels'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) throw new ConfigurationError(given.join(', '), 'give only one of url, cluster and sentinels');
  const auth: Auth = {
    username: optionalString('username', o.username),
    password: optionalString('password', o.password),
    tls: o.tls === undefined ? undefined : plainObject('tls', o.tls),
  };
  if (o.cluster !== undefined) {
    const nodes = addresses('cluster', o.cluster);
    return {
      topology: { kind: 'cluster', nodes },
      url: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      auth: clean(auth),
    };
  }
  if (o.sentinels !== undefined) {
    const sentinels = addresses('sentinels', o.sentinels);
    if (typeof o.name !== 'string' || o.name === '')
      throw new ConfigurationError('name', 'the Sentinel master group name is required with sentinels');
    return { topology: { kind: 'sentinel', sentinels, name: o.name }, url: `sentinel:${o.name}`, auth: clean(auth) };
  }
  if (o.name !== undefined) throw new ConfigurationError('name', 'is only used with sentinels');
  const raw = o.url ?? DEFAULTS.url;
  if (typeof raw === 'string' && raw.includes(',')) {
    const urls = raw.split(',').map((u, i) => urlOption(u, `url[${i}]`));
    const first = urls[0]!;
    if (urls.some((u) => u.protocol !== first.protocol))
      throw new ConfigurationError('url', 'cluster URLs must all use redis: or all use rediss:');
    const nodes = urls.map(
      (u, i) => addresses(`url[${i}]`, [{ host: u.hostname, port: Number(u.port || DEFAULT_PORT) }])[0]!,
    );
    const fromUrl = credentialsOf(first);
    return {
      topology: { kind: 'cluster', nodes },
      url: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      auth: clean({
        username: auth.username ?? fromUrl.username,
        password: auth.password ?? fromUrl.password,
        tls: auth.tls ?? (first.protocol === 'rediss:' ? {} : undefined),
      }),
    };
  }
  urlOption(raw);
  return { topology: { kind: 'standalone', url: raw }, url: raw, auth: clean(auth) };
}

export function credentialsOf(url: URL): { username?: string; password?: string } {
  return {
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
  };
}

export function addresses(name: string, value: unknown): NodeAddress[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new ConfigurationError(name, 'expected a non-empty array of { host, port }');
  return value.map((v: unknown, i) => {
    const { host, port } = (v ?? {}) as Partial<NodeAddress>;
    if (typeof host !== 'string' || host === '')
      throw new ConfigurationError(`${name}[${i}].host`, `expected a host name, got ${describe(host)}`);
    return { host, port: integer(`${name}[${i}].port`, port, 1, 65_535) };
  });
}

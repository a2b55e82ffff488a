import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AppConfig, AppReply } from './express-app.js';

const APP = fileURLToPath(new URL('./express-app.ts', import.meta.url));

/** Pins a process and all its threads to one core (Linux taskset). */
export function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** What one HTTP request got back. */
export interface Reply {
  status: number;
  body: string;
  /** The session cookie the response set, as `name=value`, if it set one. */
  cookie: string | undefined;
}

/** An app server in a child process (tools/express-app.ts), and a keep-alive HTTP client for it. */
export class AppProcess {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  /** Starts an app; with `cpu`, pinned to that core (taskset), so a benchmark's load driver does not share it. */
  static async start(config: AppConfig, cpu?: number): Promise<AppProcess> {
    const child = fork(APP, [], {
      env: { ...process.env, APP_CONFIG: JSON.stringify(config) },
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (cpu !== undefined) pin(child.pid!, cpu);
    const [reply] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => Promise.reject(new Error(`app exited with ${String(code)}`))),
    ])) as [AppReply];
    return new AppProcess(child, reply.port!);
  }

  /** The app process's CPU time so far, µs (user + system). */
  async cpuUs(): Promise<number> {
    const answer = once(this.child, 'message') as Promise<[AppReply]>;
    this.child.send('cpu');
    const [{ cpu }] = await answer;
    return cpu!.user + cpu!.system;
  }

  request(method: string, path: string, cookie?: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.#agent,
          headers: cookie === undefined ? {} : { cookie },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const set = res.headers['set-cookie']?.[0];
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString(),
              cookie: set?.slice(0, set.indexOf(';')),
            });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** Logs `user` in and returns the session cookie. */
  async login(user: string): Promise<string> {
    const reply = await this.request('POST', `/login/${user}`);
    if (reply.status !== 200 || reply.cookie === undefined) throw new Error(`login failed: ${reply.status}`);
    return reply.cookie;
  }

  async stop(): Promise<void> {
    this.#agent.destroy();
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send('stop');
    await exited;
  }
}

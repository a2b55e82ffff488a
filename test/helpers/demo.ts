import { spawn, type ChildProcess } from 'node:child_process';

export interface DemoProcess {
  base: string;
  child: ChildProcess;
  output: () => string;
  /** pid of the embedded redis-server, when the demo started one. */
  redisPid: number | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `demo/main.ts` as `npm start` would, on a free port; resolves once it listens. */
export function startDemo(env: Record<string, string | undefined> = {}): Promise<DemoProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts', '--port', '0'], {
    env: { ...process.env, REDIS_URL: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start within 20 s:\n${out}`)), 20_000);
    const check = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      const pid = /embedded Redis \(pid (\d+)\)/.exec(out);
      resolve({
        base: m[1]!,
        child,
        output: () => out,
        redisPid: pid ? Number(pid[1]) : undefined,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null) child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`demo exited early:\n${out}`));
    });
  });
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

import { spawn } from 'node:child_process';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const ENTRY = ['--import', 'tsx', 'src/cli/main.ts'];

/** Runs the command line as a user would (its real entry point, a child process). */
export function cli(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  input = '',
): Promise<CliResult> {
  return collect(spawn(process.execPath, [...ENTRY, ...args], { env: { ...process.env, ...env } }), input);
}

/**
 * The same on a pseudo-terminal (util-linux `script`), so the command sees a person at a
 * terminal and asks before acting; `input` is what that person types.
 */
export function cliOnTerminal(
  args: readonly string[],
  env: Record<string, string | undefined>,
  input: string,
): Promise<CliResult> {
  const command = [process.execPath, ...ENTRY, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return collect(spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...env } }), input);
}

function collect(child: ReturnType<typeof spawn>, input: string): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  // Typed after the prompt has had time to appear is not needed: readline buffers the line.
  child.stdin!.end(input);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

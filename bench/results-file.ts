import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a bench's markdown lines to results/<file> and echoes them. */
export function writeResult(file: string, lines: readonly string[]): void {
  const out = join(import.meta.dirname, 'results', file);
  writeFileSync(out, lines.join('\n'));
  process.stdout.write(`${lines.join('\n')}\nwritten to ${out}\n`);
}

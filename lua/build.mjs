// Flattens lua/<name>-<numKeys>.lua with their `--- @include "file"` lines into
// src/lua.generated.ts, so the library never reads Lua from disk at run time.
// The key count is written once, in the file name (BullMQ's convention); `-n` means any number
// (numberOfKeys -1: each call's key count).
// Every file, script or include, declares the includes whose functions it calls: the build
// fails on a missing include file, a circular include, or a call to a helper not included.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const includesDir = join(here, 'includes');
const out = join(here, '..', 'src', 'lua.generated.ts');
const includePattern = /^--- @include "([\w-]+)"$/;
const { name: packageName, version } = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'));

function fail(message) {
  console.error(`lua/build.mjs: ${message}`);
  process.exit(1);
}

const source = (file) => readFileSync(file, 'utf8');
const includesOf = (text) =>
  text
    .split('\n')
    .map((l) => includePattern.exec(l.trim())?.[1])
    .filter(Boolean);
const codeOf = (text) => text.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');

// Helper name -> the include that defines it.
const definedIn = new Map();
for (const f of readdirSync(includesDir).filter((f) => f.endsWith('.lua'))) {
  for (const m of codeOf(source(join(includesDir, f))).matchAll(/local function (\w+)/g)) {
    definedIn.set(m[1], f.replace(/\.lua$/, ''));
  }
}

function includeFile(name, from) {
  const file = join(includesDir, `${name}.lua`);
  if (!existsSync(file)) fail(`${from} includes "${name}", but lua/includes/${name}.lua does not exist`);
  return file;
}

/** Every include `name` reaches (itself included), failing on a cycle. */
function closure(name, from, stack = []) {
  if (stack.includes(name)) fail(`circular include: ${[...stack, name].join(' -> ')}`);
  const reached = new Set([name]);
  for (const dep of includesOf(source(includeFile(name, from)))) {
    for (const n of closure(dep, `includes/${name}.lua`, [...stack, name])) reached.add(n);
  }
  return reached;
}

/** Fails when `text` calls a helper from an include it does not (transitively) declare. */
function checkUses(label, text, own) {
  const reachable = new Set(own);
  for (const dep of includesOf(text)) for (const n of closure(dep, label)) reachable.add(n);
  for (const [fn, home] of definedIn) {
    if (reachable.has(home)) continue;
    if (new RegExp(`(^|[^\\w.:])${fn}\\(`, 'm').test(codeOf(text))) {
      fail(`${label} calls ${fn}() from includes/${home}.lua without --- @include "${home}"`);
    }
  }
}

for (const f of readdirSync(includesDir).filter((f) => f.endsWith('.lua'))) {
  checkUses(`includes/${f}`, source(join(includesDir, f)), [f.replace(/\.lua$/, '')]);
}

/** The script with its includes flattened in dependency order, each once. */
function flatten(text, from, seen) {
  return text
    .split('\n')
    .map((line) => {
      const m = includePattern.exec(line.trim());
      if (!m) return line;
      if (seen.has(m[1])) return '';
      seen.add(m[1]);
      return flatten(source(includeFile(m[1], from)), `includes/${m[1]}.lua`, seen).trimEnd();
    })
    .join('\n');
}

/**
 * Drops the included helpers a script never calls. Redis runs a script's whole body on every
 * call, so each `local function` it reaches builds a closure, used or not (measured: a
 * refresh with its four unused helpers cost 5% more Redis CPU). An include's helper starts
 * with `local function name(` at the start of a line and ends at the first line that is `end`;
 * it is used where its name is followed by `(` (no script passes a helper as a value).
 */
function withoutUnused(body, from) {
  let text = body;
  for (;;) {
    const code = codeOf(text);
    const calls = (fn) => code.match(new RegExp(`(^|[^\\w.:])${fn}\\(`, 'gm'))?.length ?? 0;
    // The definition itself is one match: a helper matched only there is never called.
    const unused = [...code.matchAll(/^local function (\w+)\(/gm)].map((m) => m[1]).find((fn) => calls(fn) === 1);
    if (unused === undefined) return text;
    const start = text.search(new RegExp(`^local function ${unused}\\(`, 'm'));
    const end = text.indexOf('\nend\n', start);
    if (end < 0) fail(`${from}: helper ${unused}() has no closing \`end\` at the start of a line`);
    // Its doc comment (the comment lines right above it) goes with it.
    let head = start;
    for (;;) {
      const prev = text.lastIndexOf('\n', head - 2);
      if (prev < 0 || !text.slice(prev + 1, head).startsWith('--')) break;
      head = prev + 1;
    }
    text = text.slice(0, head) + text.slice(end + '\nend\n'.length).replace(/^\n+/, '\n');
  }
}

const entries = readdirSync(here)
  .filter((f) => f.endsWith('.lua'))
  .sort()
  .map((f) => {
    // `-n`: the script takes any number of keys (the caller's numkeys is its key count).
    const m = /^(\w+)-(\d+|n)\.lua$/.exec(f);
    if (!m) fail(`lua/${f}: expected <name>-<numberOfKeys>.lua (or <name>-n.lua)`);
    const text = source(join(here, f));
    checkUses(f, text, []);
    const flat = withoutUnused(flatten(text, f, new Set()), f);
    if (!flat.startsWith('#!lua')) fail(`lua/${f}: must start with #!lua`);
    // The name and version line makes each release's scripts distinct in SCRIPT caches and
    // logs, so two versions of the library share one Redis without touching each other.
    const [shebang, ...rest] = flat.split('\n');
    const body = [shebang, `-- ${packageName}@${version} ${m[1]}`, ...rest].join('\n');
    const keys = m[2] === 'n' ? -1 : Number(m[2]);
    return `  ${m[1]}: { numberOfKeys: ${keys}, body: ${JSON.stringify(body)} },`;
  });

writeFileSync(
  out,
  `// Generated by lua/build.mjs from lua/*.lua. Do not edit; run \`npm run build:lua\`.\n` +
    `export const luaScripts = {\n${entries.join('\n')}\n} as const;\n\n` +
    `export type ScriptName = keyof typeof luaScripts;\n\n` +
    `/** The package version the scripts were built from (also the tracer's version). */\n` +
    `export const libraryVersion = ${JSON.stringify(version)};\n`,
);
console.log(`lua/build.mjs: ${entries.length} scripts -> src/lua.generated.ts`);

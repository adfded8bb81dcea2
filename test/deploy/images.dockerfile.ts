import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const ROOT = path.resolve(__dirname, '../..');

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** A Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) && pending === '') continue;
    const line = raw.trimEnd();
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = `${pending}${line.trim()}`.trim();
    pending = '';
    if (full !== '') logical.push(full);
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`not a Dockerfile instruction: ${line}`);
    const [, op = '', args = ''] = match;
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`unreadable FROM: ${args}`);
      stages.push({ from: from[1] ?? '', name: from[2] ?? String(stages.length), instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${op} before any FROM`);
    stage.instructions.push({ op, args });
  }
  return stages;
}

/** The exec-form CMD of a stage as an argv array. */
export function cmdOf(stage: Stage): string[] {
  const cmd = stage.instructions.filter((i) => i.op === 'CMD').at(-1);
  if (!cmd) throw new Error(`stage ${stage.name} has no CMD`);
  return z.array(z.string()).parse(JSON.parse(cmd.args));
}

/** ENV key=value pairs of a stage (values without spaces or quotes, as these Dockerfiles write them). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.op === 'ENV')) {
    for (const pair of i.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/**
 * The image's file set as its build stage lays it out: the `image-files.mjs` command and the
 * RUN lines that follow `WORKDIR <its out dir>`, both read from the Dockerfile.
 */
export interface ImageRecipe {
  /** Where the build stage lays out the file set (/image). */
  outDir: string;
  /** The arguments of scripts/image-files.mjs after the out dir. */
  imageFilesArgs: string[];
  /** Shell commands run inside the file set (the production install). */
  commands: string[];
  /** The runtime stage's COPY of the file set: source in the build stage and destination. */
  copy: { from: string; source: string; dest: string };
  runtime: Stage;
}

export function imageRecipe(stages: Stage[]): ImageRecipe {
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages.at(-1);
  if (!build || !runtime || runtime === build) throw new Error('expected a build stage and a final runtime stage');
  const layout = build.instructions.find((i) => i.op === 'RUN' && i.args.startsWith('node scripts/image-files.mjs '));
  if (!layout) throw new Error('the build stage does not run scripts/image-files.mjs');
  const [outDir = '', ...imageFilesArgs] = layout.args.split(/\s+/).slice(2);
  const workdirAt = build.instructions.findIndex((i) => i.op === 'WORKDIR' && i.args === outDir);
  if (workdirAt < 0) throw new Error(`the build stage never enters ${outDir}`);
  const after = build.instructions.slice(workdirAt + 1);
  if (after.some((i) => i.op !== 'RUN')) throw new Error(`only RUN lines may follow WORKDIR ${outDir} in the build stage`);
  const copies = runtime.instructions.filter((i) => i.op === 'COPY');
  if (copies.length !== 1) throw new Error('the runtime stage must copy exactly one thing: the file set');
  const parts = (copies[0]?.args ?? '').split(/\s+/);
  const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length) ?? '';
  const [source = '', dest = ''] = parts.filter((p) => !p.startsWith('--'));
  return { outDir, imageFilesArgs, commands: after.map((i) => i.args), copy: { from, source, dest }, runtime };
}

/** The workspaces a file set holds, from the same script in its listing mode. */
export function workspacesOf(imageFilesArgs: string[]): string[] {
  const apps = imageFilesArgs.filter((a) => a.startsWith('@parley/'));
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts/image-files.mjs'), '--list', ...apps], { cwd: ROOT, encoding: 'utf8' });
  return z.array(z.string()).parse(JSON.parse(out));
}

const lockSchema = z.object({
  packages: z.record(
    z.string(),
    z.object({
      version: z.string().optional(),
      link: z.boolean().optional(),
      resolved: z.string().optional(),
      dependencies: z.record(z.string(), z.string()).optional(),
      optionalDependencies: z.record(z.string(), z.string()).optional(),
      peerDependencies: z.record(z.string(), z.string()).optional(),
      peerDependenciesMeta: z.record(z.string(), z.object({ optional: z.boolean().optional() })).optional(),
    }),
  ),
});

/**
 * Every package npm installs for production from package-lock.json, starting at the given
 * workspaces' `dependencies` and following Node's lookup (nested node_modules first).
 * Optional peers are left out, as npm leaves them out when nothing else needs them.
 */
export function productionClosure(workspaces: string[], lockFile = path.join(ROOT, 'package-lock.json')): Set<string> {
  const { packages } = lockSchema.parse(JSON.parse(fs.readFileSync(lockFile, 'utf8')));
  const names = new Set<string>();
  const seen = new Set<string>();
  const resolve = (from: string, dep: string): string | undefined => {
    let dir = from;
    for (;;) {
      const candidate = dir === '' ? `node_modules/${dep}` : `${dir}/node_modules/${dep}`;
      if (packages[candidate]) return candidate;
      if (dir === '') return undefined;
      const at = dir.lastIndexOf('/node_modules/');
      dir = at >= 0 ? dir.slice(0, at) : '';
    }
  };
  const visit = (location: string) => {
    if (seen.has(location)) return;
    seen.add(location);
    const entry = packages[location];
    if (!entry) return;
    if (entry.link && entry.resolved) return visit(entry.resolved);
    const optionalPeers = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    const deps = [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n))];
    for (const dep of deps) {
      const found = resolve(location, dep);
      if (!found) continue; // an optional dependency for another platform
      names.add(dep);
      visit(found);
    }
  };
  workspaces.forEach(visit);
  return names;
}

/**
 * How an image starts its process: the Node arguments of the runtime stage's CMD in
 * `Dockerfile.<app>` (without the leading `node`), relative to the image's root, which lays the
 * files out as the checkout does after `npm run build`. The benches start the compiled API and
 * worker with these, so they measure what the image runs, heap limit included.
 */
export function imageNodeArgs(app: 'api' | 'worker', root = ROOT): string[] {
  const stages = parseDockerfile(fs.readFileSync(path.join(root, `Dockerfile.${app}`), 'utf8'));
  const runtime = stages.at(-1);
  if (!runtime) throw new Error(`Dockerfile.${app} has no stage`);
  const [command, ...args] = cmdOf(runtime);
  // An older image ran its migrations first: sh -c "... && exec node <args>".
  const viaShell = command === 'sh' && args[0] === '-c' ? /(?:^|&&\s*)exec node ([^&|;]+)$/.exec(args[1] ?? '') : null;
  if (viaShell?.[1]) return viaShell[1].trim().split(/\s+/);
  if (command !== 'node') throw new Error(`Dockerfile.${app}: CMD starts ${command ?? 'nothing'}, not node`);
  return args;
}

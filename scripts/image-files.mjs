#!/usr/bin/env node
// Lays out what a runtime image needs from a built checkout, before its production install:
//
//   node scripts/image-files.mjs <out-dir> <@parley/app>... [--with <path>]...
//   node scripts/image-files.mjs --list <@parley/app>...   (the workspaces only, as JSON)
//
// - the root package.json with its devDependencies and scripts removed (no install-time
//   `prisma generate`, no dev tools), its workspaces narrowed to the ones copied;
// - package-lock.json, so `npm install --omit=dev` takes the locked versions;
// - for each app and every workspace package it reaches through `dependencies` (never
//   devDependencies, so the sandbox and test helpers stay out): package.json (less its
//   devDependencies and scripts) and the files its
//   `files` field lists (dist/, plus prompts/ for @parley/llm); apps: package.json, dist/ and bin/;
// - each `--with` path as is (the worker image's prisma/ and prisma.config.ts).
//
// The Dockerfiles run it in their build stage; test/deploy/images.test.ts runs the same command
// line, read from the Dockerfile, to build each image's file set on the host.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(message) {
  process.stderr.write(`image-files: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const list = args[0] === '--list';
const out = list ? '' : args.shift();
if (list) args.shift();
if (!list && !out) fail('usage: image-files.mjs <out-dir> <@parley/app>... [--with <path>]...');
const apps = [];
const extras = [];
while (args.length > 0) {
  const arg = args.shift();
  if (arg === '--with') {
    const extra = args.shift();
    if (!extra) fail('--with needs a path');
    extras.push(extra);
  } else if (arg.startsWith('@parley/')) apps.push(arg);
  else fail(`unexpected argument ${JSON.stringify(arg)}`);
}
if (apps.length === 0) fail('name at least one app (e.g. @parley/api)');

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const rootPkg = readJson(path.join(ROOT, 'package.json'));

/** Every workspace by package name, with its folder relative to the root. */
const workspaces = new Map();
for (const pattern of rootPkg.workspaces) {
  const parent = pattern.replace(/\/\*$/, '');
  for (const name of fs.readdirSync(path.join(ROOT, parent))) {
    const file = path.join(ROOT, parent, name, 'package.json');
    if (fs.existsSync(file)) workspaces.set(readJson(file).name, `${parent}/${name}`);
  }
}

/** The apps and the workspace packages they reach through production dependencies. */
const closure = new Map();
const visit = (name) => {
  if (closure.has(name)) return;
  const dir = workspaces.get(name);
  if (!dir) fail(`${name} is not a workspace`);
  const pkg = readJson(path.join(ROOT, dir, 'package.json'));
  closure.set(name, { dir, pkg });
  for (const dep of Object.keys(pkg.dependencies ?? {})) if (workspaces.has(dep)) visit(dep);
};
apps.forEach(visit);
if (list) {
  process.stdout.write(`${JSON.stringify([...closure.values()].map((w) => w.dir).sort())}\n`);
  process.exit(0);
}

const copy = (rel) => {
  const from = path.join(ROOT, rel);
  if (!fs.existsSync(from)) fail(`${rel} is missing (run npm run build first)`);
  fs.cpSync(from, path.join(out, rel), { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
};

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const dirs = [...closure.values()].map((w) => w.dir).sort();
const { devDependencies: _dev, scripts: _scripts, ...runtimeRoot } = rootPkg;
fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify({ ...runtimeRoot, workspaces: dirs }, null, 2)}\n`);
copy('package-lock.json');
for (const { dir, pkg } of closure.values()) {
  // Without devDependencies: a test-only workspace (the sandbox) is not in the image, and npm
  // would otherwise look for it in the registry.
  const { devDependencies: _devDeps, scripts: _pkgScripts, ...runtimePkg } = pkg;
  fs.mkdirSync(path.join(out, dir), { recursive: true });
  fs.writeFileSync(path.join(out, dir, 'package.json'), `${JSON.stringify(runtimePkg, null, 2)}\n`);
  const isApp = dir.startsWith('apps/');
  const files = isApp ? ['dist', ...(pkg.bin ? ['bin'] : [])] : (pkg.files ?? ['dist']);
  for (const f of files) copy(`${dir}/${f}`);
}
extras.forEach(copy);
process.stdout.write(`image-files: ${[...closure.keys()].sort().join(' ')}${extras.length ? ` + ${extras.join(' ')}` : ''} -> ${out}\n`);

// The npm registry these machines reach serves only the platform packages they can use, so
// `npm install` writes no lock entry for e.g. @swc/core-darwin-arm64, and `npm ci` then refuses
// the lock as out of sync. This adds a stub entry (version, os, cpu, optional) for every
// optional dependency that has none; npm skips such packages on other platforms without
// fetching them, and a machine that needs one resolves it normally.
// Run after any `npm install` that changes package-lock.json:  node scripts/lock-platform-stubs.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const OS = { darwin: 'darwin', linux: 'linux', win32: 'win32', windows: 'win32', android: 'android', freebsd: 'freebsd', openharmony: 'openharmony', sunos: 'sunos' };
const CPU = { arm64: 'arm64', x64: 'x64', 64: 'x64', arm: 'arm', ia32: 'ia32', ppc64: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

let added = 0;
for (const [key, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const nested = `${key}/node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[hoisted]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.map((p) => OS[p]).find(Boolean);
    const cpu = parts.map((p) => CPU[p]).find(Boolean);
    if (!os || !cpu) continue; // not a platform package: leave it to npm
    lock.packages[hoisted] = { version, ...(pkg.dev ? { dev: true } : {}), optional: true, os: [os], cpu: [cpu] };
    added += 1;
  }
}
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`lock-platform-stubs: ${added} stub entr${added === 1 ? 'y' : 'ies'} added`);

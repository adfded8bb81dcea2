#!/usr/bin/env -S node --
// Launches the operator CLI: in a checkout (sources and tsx present) the TypeScript sources
// through tsx, so a stale build never answers; in the images (no sources, no tsx) the compiled
// entry point. Arguments, stdio and the exit code pass through.
// The `--` before the script (here and in the shebang): Node 20 reads `--env-file` anywhere on
// its command line, even after the script, so `parley setup clickup-webhook --env-file x` would
// otherwise be taken by Node itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function resolveTsx() {
  if (!existsSync(source)) return null;
  try {
    // tsx resolved from here, so `npx parley` works from any directory of the checkout.
    return import.meta.resolve('tsx');
  } catch {
    return null;
  }
}

const tsx = resolveTsx();
if (tsx === null) {
  if (!existsSync(dist)) {
    process.stderr.write('parley: neither the sources with tsx nor a build (apps/cli/dist) is here: run `npm run build`\n');
    process.exit(1);
  }
  await import(pathToFileURL(dist).href);
} else {
  // The workspace packages are read from their TypeScript sources, not their build output.
  const child = spawn(process.execPath, ['--conditions=@parley/source', '--import', tsx, '--', source, ...process.argv.slice(2)], { stdio: 'inherit' });
  // A signal for the launcher is meant for the command (backup --every stops on SIGTERM).
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('error', (error) => {
    process.stderr.write(`parley: cannot start node: ${error.message}\n`);
    process.exit(1);
  });
  // Killed by a signal: the shell's convention, 128 + its number.
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
}

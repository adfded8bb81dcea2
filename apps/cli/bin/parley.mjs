#!/usr/bin/env -S node --
// Launches the operator CLI: the compiled entry point when it was built (the images), else the
// TypeScript source through tsx (a checkout). Arguments, stdio and the exit code pass through.
// The `--` before the script (here and in the shebang): Node 20 reads `--env-file` anywhere on
// its command line, even after the script, so `parley setup clickup-webhook --env-file x` would
// otherwise be taken by Node itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/main.js', import.meta.url));

if (existsSync(dist)) {
  await import(pathToFileURL(dist).href);
} else {
  const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  // tsx resolved from here, so `npx parley` works from any directory of the checkout; the
  // workspace packages are then read from their TypeScript sources, not their build output.
  const tsx = import.meta.resolve('tsx');
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

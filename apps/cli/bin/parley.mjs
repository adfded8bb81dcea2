#!/usr/bin/env node
// Launches the operator CLI: the compiled entry point when it was built (the images), else the
// TypeScript source through tsx (a checkout). Arguments, stdio and the exit code pass through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/main.js', import.meta.url));

if (existsSync(dist)) {
  await import(pathToFileURL(dist).href);
} else {
  const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  // tsx resolved from here, so `npx parley` works from any directory of the checkout; the
  // workspace packages are then read from their TypeScript sources, not their build output.
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--conditions=@parley/source', '--import', tsx, source, ...process.argv.slice(2)], { stdio: 'inherit' });
  // A signal for the launcher is meant for the command (backup --every stops on SIGTERM).
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('error', (error) => {
    process.stderr.write(`parley: cannot start node: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1) : 1)));
}

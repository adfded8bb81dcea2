// Mutation testing: `npm run mutation [-- --incremental] [-- --force] [-- --concurrency N]`, modules chosen with
// MUTATION_MODULES (see stryker.config.mjs). Stryker 10's CLI refuses to start on Node < 22;
// its API runs on the Node 20 this project supports (checked with the modules configured
// here), so this starts it through the API with the same config file. On Node 22 or later
// `npx stryker run stryker.config.mjs` does the same.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const known = new Set(['--incremental', '--force']);
// `--mutate <glob,glob>` narrows a run to some files of the selected modules.
const mutateAt = args.indexOf('--mutate');
const mutate = mutateAt >= 0 ? (args.splice(mutateAt, 2)[1] ?? '').split(',').filter(Boolean) : null;
// `--concurrency <n>` runs n jest processes at once (the config keeps 1 for a shared machine).
const concurrencyAt = args.indexOf('--concurrency');
const concurrency = concurrencyAt >= 0 ? Number(args.splice(concurrencyAt, 2)[1]) : null;
if (concurrency !== null && !(Number.isInteger(concurrency) && concurrency > 0)) {
  process.stderr.write('--concurrency needs a positive whole number\n');
  process.exit(2);
}
const unknown = args.filter((a) => !known.has(a));
if (unknown.length > 0) {
  process.stderr.write(`unknown option(s): ${unknown.join(' ')} (known: ${[...known].join(', ')})\n`);
  process.exit(2);
}
// The package's exports name only its CLI entry (which has the version check), so the API is
// loaded by path.
const { Stryker } = await import(pathToFileURL(path.join(root, 'node_modules/@stryker-mutator/core/dist/src/stryker.js')).href);
const options = { configFile: path.join(root, 'stryker.config.mjs') };
if (args.includes('--incremental')) options.incremental = true;
if (args.includes('--force')) options.force = true;
if (mutate) options.mutate = mutate;
if (concurrency) options.concurrency = concurrency;
process.chdir(root);
await new Stryker(options).runMutationTest();

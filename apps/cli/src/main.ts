import { runCli } from './cli';
import { streamOutput } from './output';

// The entry point of `parley` (apps/cli/bin/parley.mjs runs it; the images run the compiled file).
void runCli(process.argv.slice(2), process.env, streamOutput(process.stdout, process.stderr)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`parley: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

#!/usr/bin/env node
// Placeholder launcher; the CLI's entry point replaces this.
process.stderr.write('parley: not built yet\n');
process.exit(2);

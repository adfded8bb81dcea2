// Creates and drops the suite's PostgreSQL databases (TEST_DATABASE=postgres). Plain CommonJS on
// the `pg` driver so a test can call it synchronously as a child process:
//   node test/support/pg-admin.js create <name> <template>
//   node test/support/pg-admin.js drop <name>...
//   node test/support/pg-admin.js sweep <prefix> <max-age-ms> [run]   (drops <prefix><base36 time>_* older than max age; only run's with [run])
// Connects to TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
'use strict';
const { Client } = require('pg');

const ADMIN_URL = process.env.TEST_POSTGRES_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const NAME = /^[a-z0-9_]{1,63}$/;

function ident(name) {
  if (!NAME.test(name)) throw new Error(`not a test database name: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

async function withAdmin(fn) {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function create(name, template) {
  await withAdmin(async (client) => {
    // Two CREATE DATABASE ... TEMPLATE at once can collide on the template ("being accessed by
    // other users"): a few retries.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.query(`CREATE DATABASE ${ident(name)}${template ? ` TEMPLATE ${ident(template)}` : ''}`);
        return;
      } catch (error) {
        if (attempt >= 20 || !/being accessed by other users/.test(error.message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
}

async function drop(names) {
  await withAdmin(async (client) => {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  });
}

async function sweep(prefix, maxAgeMs, run) {
  await withAdmin(async (client) => {
    const { rows } = await client.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [run ? `${prefix}${run}_` : prefix]);
    const stale = rows
      .map((row) => String(row.datname))
      .filter((name) => {
        const stamp = parseInt(name.slice(prefix.length).split('_')[0] || '', 36);
        return Number.isFinite(stamp) && Date.now() - stamp >= maxAgeMs;
      });
    for (const name of stale) await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  });
}

module.exports = { create, drop, sweep, ADMIN_URL };

if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  const run = command === 'create' ? create(args[0], args[1]) : command === 'drop' ? drop(args) : command === 'sweep' ? sweep(args[0], Number(args[1]), args[2]) : Promise.reject(new Error(`unknown command ${command}`));
  run.catch((error) => {
    process.stderr.write(`pg-admin ${command}: ${error.message}\n`);
    process.exit(1);
  });
}

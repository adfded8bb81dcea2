import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { z } from 'zod';
import { createMetrics } from '@parley/metrics';

/**
 * docker-compose.yml checked as data (no Docker engine on the build machines): the services of
 * the one-VM topology, how they wait for each other, what is published, what each may use, and
 * that every file the compose file mounts is in the repository.
 */
const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

const dependsOn = z.record(z.string(), z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']) }).passthrough());
const serviceSchema = z
  .object({
    image: z.string(),
    build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
    command: z.array(z.string()).optional(),
    entrypoint: z.array(z.string()).optional(),
    env_file: z.string().optional(),
    environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    ports: z.array(z.string()).optional(),
    expose: z.array(z.string()).optional(),
    volumes: z.array(z.string()).optional(),
    secrets: z.array(z.object({ source: z.string(), mode: z.number().int() }).strict()).optional(),
    depends_on: dependsOn.optional(),
    healthcheck: z.object({ test: z.array(z.string()) }).passthrough().optional(),
    profiles: z.array(z.string()).optional(),
    restart: z.string(),
    stop_grace_period: z.string().optional(),
    logging: z.object({ driver: z.string(), options: z.record(z.string(), z.string()) }),
    deploy: z.object({
      replicas: z.number().int().optional(),
      resources: z.object({ limits: z.object({ cpus: z.string(), memory: z.string() }) }),
    }),
  })
  .strict();
const composeSchema = z
  .object({
    name: z.string(),
    services: z.record(z.string(), serviceSchema),
    secrets: z.record(z.string(), z.object({ environment: z.string() }).strict()),
    volumes: z.record(z.string(), z.null()),
  })
  .passthrough();

const compose = composeSchema.parse(yaml.load(read('docker-compose.yml')));
const services = compose.services;
const service = (name: string) => {
  const s = services[name];
  if (!s) throw new Error(`no service ${name} in docker-compose.yml`);
  return s;
};
const PARLEY = ['api', 'worker', 'migrate', 'backup'];
const seconds = (duration: string | undefined) => Number(/^(\d+)s$/.exec(duration ?? '')?.[1] ?? 0);

describe('docker-compose.yml: services', () => {
  it('has the one-VM topology: proxy, Redis, migration, API, workers, backups, and monitoring on demand', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'backup', 'caddy', 'grafana', 'migrate', 'prometheus', 'redis', 'worker']);
    for (const name of Object.keys(services)) {
      const profiles = services[name]?.profiles;
      expect({ name, profiles }).toEqual({ name, profiles: ['prometheus', 'grafana'].includes(name) ? ['monitoring'] : undefined });
    }
  });

  it('runs the Parley images by owner and version, built from the Dockerfiles; third-party images by a pinned tag', () => {
    expect(service('api').image).toBe('ghcr.io/${GHCR_OWNER:-parley}/parley-api:${PARLEY_VERSION:-latest}');
    expect(service('api').build).toEqual({ context: '.', dockerfile: 'Dockerfile.api' });
    expect(service('worker').build).toEqual({ context: '.', dockerfile: 'Dockerfile.worker' });
    // Migrations and backups run from the worker's image (it holds the prisma CLI and the ops CLI).
    for (const name of ['worker', 'migrate', 'backup']) expect(service(name).image).toBe('ghcr.io/${GHCR_OWNER:-parley}/parley-worker:${PARLEY_VERSION:-latest}');
    for (const [name, s] of Object.entries(services)) {
      if (PARLEY.includes(name)) continue;
      expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/^[a-z0-9./-]+:[A-Za-z0-9][\w.-]*$/) });
      expect(s.image).not.toMatch(/:latest$/);
    }
    for (const file of ['Dockerfile.api', 'Dockerfile.worker']) expect(fs.existsSync(path.join(ROOT, file))).toBe(true);
  });

  it('starts each service after what it needs, with conditions its targets can meet', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(s.depends_on ?? {})) {
        const other = services[target];
        expect({ name, target, exists: other !== undefined }).toEqual({ name, target, exists: true });
        // A profile-only service cannot be a dependency of one that always runs.
        if (other?.profiles) expect(s.profiles).toEqual(other.profiles);
        if (condition === 'service_healthy') {
          const dockerfile = other?.build?.dockerfile;
          const hasHealthcheck = other?.healthcheck !== undefined || (dockerfile !== undefined && /^HEALTHCHECK /m.test(read(dockerfile)));
          expect({ name, target, hasHealthcheck }).toEqual({ name, target, hasHealthcheck: true });
        }
        if (condition === 'service_completed_successfully') expect(other?.restart).toBe('no');
      }
    }
    for (const name of ['api', 'worker']) {
      expect(service(name).depends_on).toEqual({ redis: { condition: 'service_healthy' }, migrate: { condition: 'service_completed_successfully' } });
    }
    expect(service('backup').depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(service('caddy').depends_on).toEqual({ api: { condition: 'service_started' } });
  });

  it('applies migrations once, as a one-shot step from the worker image', () => {
    const migrate = service('migrate');
    expect(migrate.command).toEqual(['node', 'apps/cli/dist/main.js', 'db', 'migrate']);
    expect(migrate.restart).toBe('no');
    expect(migrate.volumes).toEqual(['sqlite-data:/data']);
    expect(migrate.environment?.DATABASE_URL).toBe('file:/data/parley.db');
    expect(fs.existsSync(path.join(ROOT, 'prisma/migrations'))).toBe(true);
  });

  it('backs SQLite up every hour into its own volume, keeping 48', () => {
    const backup = service('backup');
    expect(backup.command).toEqual(['node', 'apps/cli/dist/main.js', 'backup', '--to', '/backups', '--keep', '48', '--every', '3600']);
    expect(backup.volumes?.sort()).toEqual(['backups:/backups', 'sqlite-data:/data']);
    expect(backup.restart).toBe('unless-stopped');
  });

  it('runs Redis with AOF everysec on a named volume, with a healthcheck, refusing writes before its memory limit', () => {
    const redis = service('redis');
    const command = redis.command ?? [];
    const flag = (name: string) => command[command.indexOf(name) + 1];
    expect(flag('--appendonly')).toBe('yes');
    expect(flag('--appendfsync')).toBe('everysec');
    expect(flag('--maxmemory-policy')).toBe('noeviction');
    const maxMb = Number(/^(\d+)mb$/.exec(flag('--maxmemory') ?? '')?.[1]);
    const limitMb = Number(/^(\d+)M$/.exec(redis.deploy.resources.limits.memory)?.[1]);
    expect(maxMb).toBeGreaterThan(0);
    expect(maxMb).toBeLessThan(limitMb);
    expect(redis.volumes).toEqual(['redis-data:/data']);
    expect(redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('runs at least two workers sharing the SQLite volume, with grace periods covering shutdown', () => {
    // SHUTDOWN_GRACE_MS (25 s by default) plus the 3 s cleanup deadline (docs/operations.md).
    const shutdownSeconds = 25 + 3;
    expect(service('worker').deploy.replicas).toBeGreaterThanOrEqual(2);
    for (const name of ['api', 'worker']) {
      expect(service(name).volumes).toContain('sqlite-data:/data');
      expect(seconds(service(name).stop_grace_period)).toBeGreaterThan(shutdownSeconds);
    }
  });
});

describe('docker-compose.yml: exposure and secrets', () => {
  it('publishes ports on the proxy only: 80 and 443', () => {
    for (const [name, s] of Object.entries(services)) if (name !== 'caddy') expect({ name, ports: s.ports }).toEqual({ name, ports: undefined });
    expect(service('caddy').ports).toEqual(['80:80', '443:443', '443:443/udp']);
  });

  it('gives .env to the Parley processes only, each pointed at the compose Redis and SQLite volume', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, env_file: s.env_file }).toEqual({ name, env_file: PARLEY.includes(name) ? '.env' : undefined });
    }
    for (const name of PARLEY) {
      expect(service(name).environment).toMatchObject({ REDIS_URL: 'redis://redis:6379', DATABASE_URL: 'file:/data/parley.db' });
    }
  });

  it('writes no secret into the file: secret-named settings only refer to .env', () => {
    const secretName = /(TOKEN|SECRET|PASSWORD|KEY|DSN)$/;
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!secretName.test(key)) continue;
        expect({ name, key, value }).toEqual({ name, key, value: expect.stringMatching(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/) });
      }
    }
    // Token shapes anywhere in the text (Slack, Anthropic, ClickUp, Google, long hex).
    expect(read('docker-compose.yml')).not.toMatch(/xox[bpa]-|xapp-|sk-ant-|pk_\d|ya29\.|GOCSPX-|[0-9a-f]{32}/);
    for (const [secret, source] of Object.entries(compose.secrets)) expect({ secret, source: source.environment }).toEqual({ secret, source: expect.stringMatching(/^[A-Z_]+$/) });
  });

  it('declares every secret it mounts, and mounts every one it declares', () => {
    const used = new Set(Object.values(services).flatMap((s) => (s.secrets ?? []).map((secret) => secret.source)));
    expect([...used].sort()).toEqual(Object.keys(compose.secrets).sort());
    expect(compose.secrets.metrics_token).toEqual({ environment: 'METRICS_TOKEN' });
    // Prometheus (nobody) and Grafana (uid 472) read them as non-root users.
    expect(service('prometheus').secrets).toEqual([{ source: 'metrics_token', mode: 0o444 }]);
    expect(service('grafana').secrets).toEqual([{ source: 'grafana_admin_password', mode: 0o444 }]);
  });
});

describe('docker-compose.yml: resources', () => {
  it('limits memory and CPU of every service', () => {
    for (const [name, s] of Object.entries(services)) {
      const { cpus, memory } = s.deploy.resources.limits;
      expect({ name, cpus: Number(cpus) > 0 && Number(cpus) <= 2 }).toEqual({ name, cpus: true });
      expect({ name, memory }).toEqual({ name, memory: expect.stringMatching(/^\d+[MG]$/) });
    }
  });

  it('rotates every service log (json-file with a size and a file count)', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, logging: s.logging }).toEqual({ name, logging: { driver: 'json-file', options: { 'max-size': expect.stringMatching(/^\d+m$/), 'max-file': expect.stringMatching(/^\d+$/) } } });
    }
  });

  it('declares every named volume it uses, and uses every one it declares', () => {
    const named = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0] ?? '')
      .filter((source) => !source.startsWith('.') && !source.startsWith('/'));
    expect([...new Set(named)].sort()).toEqual(Object.keys(compose.volumes).sort());
  });

  it('mounts only files that are in the repository, read-only', () => {
    const mounts = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .filter((v) => v.startsWith('./'));
    expect(mounts.length).toBeGreaterThanOrEqual(4);
    for (const mount of mounts) {
      const [source = '', , mode] = mount.split(':');
      expect({ mount, exists: fs.existsSync(path.join(ROOT, source)) }).toEqual({ mount, exists: true });
      expect({ mount, mode }).toEqual({ mount, mode: 'ro' });
    }
  });
});

describe('deploy/: the proxy and monitoring configuration', () => {
  const mountTarget = (name: string, source: string) =>
    service(name)
      .volumes?.find((v) => v.startsWith(`${source}:`))
      ?.split(':')[1];

  it('Caddy: TLS for PARLEY_DOMAIN in front of the API, no metrics outside, required domain', () => {
    expect(mountTarget('caddy', './deploy/caddy/Caddyfile')).toBe('/etc/caddy/Caddyfile');
    expect(service('caddy').environment?.PARLEY_DOMAIN).toMatch(/^\$\{PARLEY_DOMAIN:\?.+\}$/);
    const caddyfile = read('deploy/caddy/Caddyfile');
    expect(caddyfile).toMatch(/^\{\$PARLEY_DOMAIN\} \{$/m);
    expect(caddyfile).toMatch(/reverse_proxy api:3000/);
    // Inside a `handle` of its own: a bare `respond` would run after the catch-all `handle`
    // that proxies everything to the API (Caddy orders `handle` before `respond`).
    expect(caddyfile).toMatch(/^\thandle \/metrics\* \{\n\t\trespond 404\n\t\}$/m);
    expect(caddyfile).not.toMatch(/^\s*respond @/m);
    expect(caddyfile.match(/^\thandle \{$/gm)).toHaveLength(1);
    // The proxy closes idle upstream sockets before the API's keep-alive timeout (65 s) does.
    const keepalive = Number(/keepalive (\d+)s/.exec(caddyfile)?.[1]);
    expect(keepalive).toBeGreaterThan(0);
    expect(keepalive * 1000).toBeLessThan(65_000);
  });

  it('Prometheus scrapes the API and every worker on the internal network, with the metrics token file', () => {
    const config = z
      .object({
        scrape_configs: z.array(
          z
            .object({
              job_name: z.string(),
              metrics_path: z.string(),
              authorization: z.object({ type: z.literal('Bearer'), credentials_file: z.string() }),
              static_configs: z.array(z.object({ targets: z.array(z.string()) })).optional(),
              dns_sd_configs: z.array(z.object({ names: z.array(z.string()), type: z.literal('A'), port: z.number() }).passthrough()).optional(),
            })
            .passthrough(),
        ),
      })
      .passthrough()
      .parse(yaml.load(read('deploy/prometheus/prometheus.yml')));
    expect(mountTarget('prometheus', './deploy/prometheus/prometheus.yml')).toBe('/etc/prometheus/prometheus.yml');
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]));
    expect(jobs['parley-api']?.static_configs).toEqual([{ targets: ['api:3000'] }]);
    expect(service('api').expose).toEqual(['3000']);
    const workerPort = Number(service('worker').environment?.WORKER_METRICS_PORT);
    expect(jobs['parley-worker']?.dns_sd_configs?.[0]).toMatchObject({ names: ['worker'], type: 'A', port: workerPort });
    expect(service('worker').expose).toEqual([String(workerPort)]);
    for (const job of config.scrape_configs) {
      expect(job.metrics_path).toBe('/metrics');
      expect(job.authorization.credentials_file).toBe('/run/secrets/metrics_token');
    }
  });

  it('Grafana: Prometheus provisioned, the dashboard loaded, its panels on metrics and labels Parley exports', () => {
    const provisioning = mountTarget('grafana', './deploy/grafana/provisioning');
    const dashboards = mountTarget('grafana', './deploy/grafana/dashboards');
    expect(provisioning).toBe('/etc/grafana/provisioning');
    const datasources = z
      .object({ datasources: z.array(z.object({ uid: z.string(), type: z.literal('prometheus'), url: z.string() }).passthrough()) })
      .passthrough()
      .parse(yaml.load(read('deploy/grafana/provisioning/datasources/prometheus.yml')));
    expect(datasources.datasources[0]?.url).toBe('http://prometheus:9090');
    const providers = z
      .object({ providers: z.array(z.object({ options: z.object({ path: z.string() }).passthrough() }).passthrough()) })
      .passthrough()
      .parse(yaml.load(read('deploy/grafana/provisioning/dashboards/parley.yml')));
    expect(providers.providers[0]?.options.path).toBe(dashboards);

    const dashboard = z
      .object({
        uid: z.string(),
        panels: z.array(z.object({ title: z.string(), datasource: z.object({ uid: z.string() }), targets: z.array(z.object({ expr: z.string() }).passthrough()) }).passthrough()),
      })
      .passthrough()
      .parse(JSON.parse(read('deploy/grafana/dashboards/parley.json')));
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    for (const metric of ['parley_queue_jobs', 'parley_dead_letters_total', 'parley_llm_errors_total', 'parley_negotiations']) {
      expect({ metric, charted: exprs.some((e) => new RegExp(`\\b${metric}\\b`).test(e)) }).toEqual({ metric, charted: true });
    }
    for (const panel of dashboard.panels) expect(panel.datasource.uid).toBe(datasources.datasources[0]?.uid);

    // Every parley_* name and every `by (...)` label in the queries exists in packages/metrics.
    const metrics = createMetrics();
    for (const expr of exprs) {
      for (const name of expr.match(/\bparley_[a-z_]+/g) ?? []) {
        const metric = metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
        expect({ expr, name, exported: metric !== undefined }).toEqual({ expr, name, exported: true });
        for (const label of /\bby \(([^)]*)\)/.exec(expr)?.[1]?.split(',').map((l) => l.trim()) ?? []) {
          expect({ expr, label, known: metric?.labelNames?.includes(label) }).toEqual({ expr, label, known: true });
        }
      }
    }
  });
});

describe('docker-compose.postgres.yml: the PostgreSQL variant (an override of docker-compose.yml)', () => {
  const overrideService = serviceSchema.partial().strict();
  const override = z
    .object({ name: z.literal(compose.name), 'x-postgres-url': z.string(), services: z.record(z.string(), overrideService), volumes: z.record(z.string(), z.null()) })
    .strict()
    .parse(yaml.load(read('docker-compose.postgres.yml')));
  const of = (name: string) => {
    const s = override.services[name];
    if (!s) throw new Error(`no service ${name} in docker-compose.postgres.yml`);
    return s;
  };
  const URL_PATTERN = /^postgresql:\/\/parley:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/parley$/;

  it('gives migrate, API and workers one PostgreSQL URL, on top of the rest of their environment, once PostgreSQL is healthy', () => {
    const urls = ['migrate', 'api', 'worker'].map((name) => {
      const merged = { ...service(name).environment, ...of(name).environment };
      expect(merged.REDIS_URL).toBe('redis://redis:6379');
      expect(String(merged.DATABASE_URL)).toMatch(URL_PATTERN);
      // Compose merges depends_on: the base file's conditions stay, PostgreSQL's is added.
      expect(Object.keys(of(name).depends_on ?? {})).toEqual(['postgres']);
      expect(of(name).depends_on?.postgres?.condition).toBe('service_healthy');
      return merged.DATABASE_URL;
    });
    expect(new Set(urls).size).toBe(1);
    // Migrations still run from the worker image, for PostgreSQL now, before anything else.
    expect(of('migrate').command).toBeUndefined();
    expect(service('migrate').command).toEqual(['node', 'apps/cli/dist/main.js', 'db', 'migrate']);
  });

  it('keeps PostgreSQL private, with its own volume, a health check, limits and rotated logs', () => {
    const pg = of('postgres');
    expect(pg.image).toMatch(/^postgres:15/);
    expect(pg.ports).toBeUndefined();
    expect(pg.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
    expect(override.volumes).toHaveProperty('postgres-data');
    expect(pg.healthcheck?.test.join(' ')).toContain('pg_isready -U parley -d parley');
    expect(pg.environment).toMatchObject({ POSTGRES_USER: 'parley', POSTGRES_DB: 'parley' });
    expect(String(pg.environment?.POSTGRES_PASSWORD)).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(pg.deploy?.resources.limits.memory).toBeDefined();
    expect(pg.logging?.options).toMatchObject({ 'max-size': '10m', 'max-file': '5' });
    expect(read('docker-compose.postgres.yml')).not.toMatch(/POSTGRES_PASSWORD: [A-Za-z0-9]/);
  });

  it('replaces the SQLite backups by hourly pg_dump files, written whole and 48 kept', () => {
    const backup = of('backup');
    expect(backup.image).toMatch(/^postgres:15/);
    const script = (backup.command ?? []).join(' ');
    expect(script).toMatch(/pg_dump -h postgres -U parley -d parley -Fc -f "\$\$f\.partial"/);
    expect(script).toContain('mv "$$f.partial" "$$f"');
    expect(script).toContain('head -n -48');
    expect(script).toContain('sleep 3600');
    expect(backup.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
  });
});

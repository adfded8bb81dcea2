import { createEngineWiring } from '@parley/engine';
import { runWorker } from './run-worker';

void runWorker(process.env, {
  wiring: ({ config, db, queues, redis, metrics, log }) => {
    const engine = createEngineWiring(config, { db, queues, redis, metrics, log });
    return {
      handlers: engine.handlers,
      maintenanceTasks: {
        'gmail-watch-renewal': () => engine.maintenance['gmail-watch-renewal'](),
        'follow-ups': () => engine.maintenance['follow-ups'](),
        'stuck-sweep': () => engine.maintenance['stuck-sweep'](),
      },
      onStart: () => engine.maintenance['gmail-watch-renewal'](),
    };
  },
});

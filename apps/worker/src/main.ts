import { createEngineWiring } from './engine-wiring';
import { runWorker } from './run-worker';

void runWorker(process.env, {
  wiring: ({ config, db, queues, redis, metrics, log }) => {
    const engine = createEngineWiring(config, { db, queues, redis, metrics, log });
    return {
      handlers: engine.handlers,
      maintenanceTasks: engine.maintenance,
      onStart: () => engine.maintenance['gmail-watch-renewal'](),
    };
  },
});

import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Express } from 'express';
import { QUEUE_NAMES, type Queues } from '@parley/queue';

/**
 * bull-board over every queue, read-write (retry, promote, clean, pause from the browser).
 * Mounted behind the admin auth and the same-origin check like the rest of /admin.
 */
export function queueBoard(queues: Queues, basePath: string): Express {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: QUEUE_NAMES.map((name) => new BullMQAdapter(queues[name], { readOnlyMode: false, allowRetries: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Parley queues' } },
  });
  // The adapter's router is an Express app of its own (its type says `any`), with Express's defaults.
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');
  return board;
}

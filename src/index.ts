// The Worker's entry points: fetch, one queue consumer per queue name, and the Durable Object
// classes.
import { createApp } from './app';
import type { Bindings } from './env';
import { consumeUsage, recordDeadLetters } from './modules/usage/consumer';

export { KanbanBoard } from './realtime/kanban-board';

const app = createApp();

/** One entry per queue this Worker consumes (wrangler.toml [[queues.consumers]]). */
const QUEUE_CONSUMERS: Record<string, (batch: MessageBatch<unknown>, env: Bindings, ctx: ExecutionContext) => Promise<void>> = {
  'strive-usage': consumeUsage,
  'strive-usage-dlq': recordDeadLetters,
};

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    const consume = QUEUE_CONSUMERS[batch.queue];
    if (!consume) throw new Error(`No consumer for queue ${batch.queue}`);
    await consume(batch, env, ctx);
  },
} satisfies ExportedHandler<Bindings>;

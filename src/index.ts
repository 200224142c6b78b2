// The Worker's entry points: HTTP, the cron triggers, one queue consumer per queue name, and the
// Durable Object classes.
import { createApp } from './app';
import type { Bindings } from './env';
import { deliverNotifications, NOTIFICATIONS_QUEUE_NAME, sendDueReminders } from './modules/appointments/reminders';
import { consumeUsage, recordDeadLetters } from './modules/usage/consumer';
import { deleteExpiredIdempotencyKeys } from './middleware/idempotency';
import { consumeWebhooks, sweepWebhooks, WEBHOOKS_QUEUE_NAME } from './modules/outbound-webhooks/delivery';
import { resumeStalledMoves } from './modules/platform/moves';

export { KanbanBoard } from './realtime/kanban-board';
export { ChatSession } from './realtime/chat-session';
export { OrganizationWriter } from './realtime/organization-writer';

const app = createApp();

/** One entry per queue this Worker consumes (wrangler.toml [[queues.consumers]]). */
const QUEUE_CONSUMERS: Record<
  string,
  (batch: MessageBatch<never>, env: Bindings, ctx: ExecutionContext) => Promise<void>
> = {
  'strive-usage': consumeUsage,
  'strive-usage-dlq': recordDeadLetters,
  [NOTIFICATIONS_QUEUE_NAME]: deliverNotifications,
  [WEBHOOKS_QUEUE_NAME]: consumeWebhooks,
};

export default {
  fetch: app.fetch,

  /** wrangler.toml's [triggers] crons: every 5 minutes. */
  async scheduled(controller, env) {
    const now = new Date(controller.scheduledTime);
    await Promise.all([
      // The sweep drains the outbox after the reminders' events are in it (and even if a shard failed).
      sendDueReminders(env, now).finally(() => sweepWebhooks(env, now)),
      deleteExpiredIdempotencyKeys(env.CATALOG, now),
      resumeStalledMoves(env, now),
    ]);
  },

  async queue(batch, env, ctx) {
    const consume = QUEUE_CONSUMERS[batch.queue];
    // Throwing makes Queues retry the batch: better than acknowledging messages nobody read.
    if (!consume) throw new Error(`No consumer for queue ${batch.queue}.`);
    await consume(batch as MessageBatch<never>, env, ctx);
  },
} satisfies ExportedHandler<Bindings>;

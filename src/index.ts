// The Worker's entry points: HTTP, the cron triggers, the queue consumers, and the Durable Object
// classes.
import { createApp } from './app';
import type { Bindings } from './env';
import { deliverNotifications, NOTIFICATIONS_QUEUE_NAME, sendDueReminders } from './modules/appointments/reminders';

export { KanbanBoard } from './realtime/kanban-board';

const app = createApp();

/** One consumer per queue name (wrangler.toml's [[queues.consumers]]). */
const QUEUE_CONSUMERS: Record<string, (batch: MessageBatch<never>, env: Bindings) => Promise<void>> = {
  [NOTIFICATIONS_QUEUE_NAME]: deliverNotifications,
};

export default {
  fetch: app.fetch,

  /** wrangler.toml's [triggers] crons: every 5 minutes. */
  async scheduled(controller, env) {
    await sendDueReminders(env, new Date(controller.scheduledTime));
  },

  async queue(batch, env) {
    const consume = QUEUE_CONSUMERS[batch.queue];
    // Throwing makes Queues retry the batch: better than acknowledging messages nobody read.
    if (!consume) throw new Error(`No consumer for queue ${batch.queue}.`);
    await consume(batch as MessageBatch<never>, env);
  },
} satisfies ExportedHandler<Bindings>;

// The Worker's entry points. Later modules add `queue` and `scheduled` here and export their
// Durable Object classes.
import { createApp } from './app';
import type { Bindings } from './env';

export { KanbanBoard } from './realtime/kanban-board';
export { ChatSession } from './realtime/chat-session';

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;

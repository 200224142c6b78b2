// KANBAN_BOARD: one Durable Object per project. It holds the board's WebSockets (hibernatable:
// idle sockets cost nothing), knows who is watching, and is the only place a project's tasks are
// created or reordered, one write at a time, so positions never collide. Every change, whether it
// came through REST, a socket or the assistant, is broadcast to every watcher.
import type { z } from '@hono/zod-openapi';
import type { TenantContext } from '../env';
import { fromPortable, toPortable, type PortableContext } from '../auth/tenant';
import { asApiError } from '../db/errors';
import { D1Sessions } from '../db/sessions';
import { ApiError } from '../lib/problem';
import { BoardMessage, type TaskCreate, type TaskMove, type TaskPatch } from '../modules/tasks/schemas';
import {
  applyTaskMove,
  applyTaskUpdate,
  assertProjectVisible,
  getBoard,
  getTask,
  insertTask,
  type Task,
} from '../modules/tasks/service';
import { actorSummary, type ActorSummary, type BoardEvent, type BoardResult } from './kanban-client';
import { refusalOf, SocketRoom, type Access, type Connection } from './socket-room';

/** Per socket: 8 KB a message, 20 messages in 10 s. */
export const SOCKET_LIMITS = { maxMessageBytes: 8 * 1024, burst: { messages: 20, windowMs: 10_000 } } as const;

export class KanbanBoard extends SocketRoom<z.infer<typeof BoardMessage>> {
  private writes: Promise<unknown> = Promise.resolve();
  protected readonly protocol = BoardMessage;
  protected readonly limits = SOCKET_LIMITS;
  protected readonly shows = 'this board';
  protected readonly acting = {
    permission: 'tasks:write',
    refusal: "Watching only: moving tasks needs the 'tasks:write' permission.",
  } as const;

  /**
   * D1 calls are outside the object's input gate: without this chain two moves could interleave
   * between reading a column and writing it.
   */
  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async write<T>(
    context: PortableContext,
    operation: (ctx: TenantContext) => Promise<T>,
    event: (value: T) => BoardEvent,
    // The object is the single writer of the board's order: what it reads decides its writes, so
    // it reads the primary (a socket's move: in the sessions its access re-read started).
    d1: D1Sessions = D1Sessions.primary(this.env),
  ): Promise<BoardResult<T>> {
    try {
      const value = await this.oneAtATime(() => operation(fromPortable(this.env, d1, context, this.waitUntil)));
      this.broadcast(event(value));
      return { ok: true, value, d1: d1.report() };
    } catch (thrown) {
      const error = asApiError(thrown);
      if (!error) throw thrown;
      return { ok: false, error: refusalOf(error), d1: d1.report() };
    }
  }

  createTask(context: PortableContext, projectId: string, input: TaskCreate) {
    return this.write(
      context,
      (ctx) => insertTask({ ctx, projectId, input }),
      (task) => ({ type: 'task.created', task, actor: actorSummary(context) }),
    );
  }

  /** A change of column is an ordering change: it lands at the end of the new column. */
  updateTask(context: PortableContext, id: string, input: TaskPatch) {
    return this.write(
      context,
      (ctx) => applyTaskUpdate({ ctx, id, input }),
      (task) => ({ type: 'task.updated', task, actor: actorSummary(context) }),
    );
  }

  /** A move, from an RPC or (with the sessions its access re-read started) from a socket of this board. */
  async moveTask(
    context: PortableContext,
    projectId: string,
    id: string,
    input: TaskMove,
    socketD1?: D1Sessions,
  ): Promise<BoardResult<Task>> {
    const result = await this.write(
      context,
      (ctx) => applyTaskMove({ ctx, projectId, id, input }),
      ({ task, renumbered }) => ({
        type: 'task.moved',
        task,
        actor: actorSummary(context),
        ...(renumbered.length > 0 ? { renumbered } : {}),
        ...(socketD1 && this.env.EXPOSE_D1_ROUND_TRIPS === 'true' ? { d1_round_trips: socketD1.count } : {}),
      }),
      socketD1,
    );
    return result.ok ? { ...result, value: result.value.task } : result;
  }

  /** For changes made outside the object (edits that move nothing, deletions). */
  broadcast(event: BoardEvent): void {
    this.broadcastToSockets(event);
  }

  /** A socket may watch while its actor may read tasks and see the project. */
  protected async mayWatch(ctx: TenantContext, projectId: string): Promise<boolean> {
    if (!ctx.permissions.has('tasks:read')) return false;
    // Only a client user's sight of a project changes with their access (it follows their customer).
    if (ctx.clientEmail === null) return true;
    return assertProjectVisible(ctx, projectId).then(
      () => true,
      (error: unknown) => {
        if (error instanceof ApiError && error.code === 'not_found') return false;
        throw error;
      },
    );
  }

  protected async onConnect(connection: Connection, ctx: TenantContext): Promise<void> {
    // In the write queue: a move landing while the socket connects is either in this snapshot
    // or broadcast after it, never lost between the two.
    const board = await this.oneAtATime(() => getBoard({ ctx, projectId: connection.state.room }));
    connection.send({ type: 'snapshot', board });
    this.presence();
  }

  /** A move acts as its sender is now: a demoted member as what they became. */
  protected async onMessage(
    connection: Connection,
    { task_id, type: _, ...move }: z.infer<typeof BoardMessage>,
    { ctx, d1 }: Access,
  ) {
    const result = await this.moveTask(toPortable(ctx), connection.state.room, task_id, move, d1);
    if (result.ok) return;
    const { code, detail, errors } = result.error;
    // A stale move: say so and hand over the task as it is now.
    const extra = code === 'conflict' ? { task: await getTask({ ctx, id: task_id }).catch(() => null) } : {};
    connection.refuse(code, detail, { ...(errors ? { errors } : {}), ...extra });
  }

  protected override onClose(connection: Connection): void {
    this.presence(connection.socket);
  }

  private presence(except?: WebSocket) {
    const users = new Map<string, ActorSummary>();
    for (const { state } of this.connections(except)) {
      const user = actorSummary(state.context);
      users.set(`${user.type}:${user.id}`, user);
    }
    this.broadcastToSockets({ type: 'presence', users: [...users.values()] }, except);
  }
}

// KANBAN_BOARD: one Durable Object per project. It holds the board's WebSockets (hibernatable:
// idle sockets cost nothing), knows who is watching, and is the only place a project's tasks are
// created or reordered, one write at a time, so positions never collide. Every change, whether it
// came through REST or a socket, is broadcast to every watcher.
import { TASK_STATUSES } from '../db/enums';
import type { TenantContext } from '../env';
import { UUID_PATTERN } from '../lib/ids';
import { fromPortable, toPortable, type PortableContext } from '../auth/tenant';
import { D1Sessions, type D1Report } from '../db/sessions';
import { ApiError, type ErrorCode, type FieldError } from '../lib/problem';
import {
  assertProjectVisible,
  createTask,
  getBoard,
  getTask,
  moveTask,
  updateTask,
  type Task,
  type TaskInput,
  type TaskMove,
  type TaskPatch,
} from '../modules/tasks/service';
import {
  RATE_LIMIT_KEY_HEADER,
  refuse as refuseOn,
  sendSafely,
  SocketAccess,
  type SocketAttachment,
} from './socket-access';

export type ActorSummary = { type: string; id: string | null; name: string | null };
export type BoardEvent =
  | { type: 'task.created' | 'task.updated'; task: Task; actor: ActorSummary }
  /**
   * `renumbered`: when the move closed a gap, the new position of every task of its column;
   * `d1_round_trips`: a socket's move, where EXPOSE_D1_ROUND_TRIPS is set (a request's x-d1-round-trips).
   */
  | {
      type: 'task.moved';
      task: Task;
      actor: ActorSummary;
      renumbered?: { id: string; position: number }[];
      d1_round_trips?: number;
    }
  /** `deleted_ids`: the task and every subtask deleted with it. */
  | { type: 'task.deleted'; task: Task & { deleted_ids: string[] }; actor: ActorSummary };

/**
 * What an RPC answers: errors as data, since an ApiError does not survive the RPC boundary as
 * itself; `d1`: the operation's round trips and bookmarks, which count as the request's.
 */
export type BoardResult<T> =
  | { ok: true; value: T; d1: D1Report }
  | { ok: false; error: { code: ErrorCode; detail: string; errors?: FieldError[] }; d1: D1Report };

type Attachment = SocketAttachment & {
  projectId: string;
  user: ActorSummary;
  /** Messages in the current rate window. */
  window: { start: number; count: number };
};

/** Per socket: 8 KB a message, 20 messages in 10 s. */
export const SOCKET_LIMITS = { maxMessageBytes: 8 * 1024, messages: 20, windowMs: 10_000 } as const;

export function actorSummary(context: Pick<PortableContext, 'actor'>): ActorSummary {
  const { actor } = context;
  switch (actor.type) {
    case 'user':
      return { type: 'user', id: actor.user.id, name: actor.user.name ?? actor.user.email };
    case 'api_key':
      return { type: 'api_key', id: actor.keyId, name: null };
    case 'ai':
      return { type: 'ai', id: actor.conversationId, name: 'AI assistant' };
    default:
      return { type: actor.type, id: null, name: null };
  }
}

export class KanbanBoard extends SocketAccess<Attachment> {
  private writes: Promise<unknown> = Promise.resolve();
  protected readonly shows = 'this board';

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
    operation: (ctx: ReturnType<typeof fromPortable>) => Promise<T>,
    event: (value: T) => BoardEvent,
    // The object is the single writer of the board's order: what it reads decides its writes, so
    // it reads the primary (a socket's move: in the sessions its access re-read started).
    d1: D1Sessions = D1Sessions.primary(this.env),
  ): Promise<BoardResult<T>> {
    try {
      const value = await this.oneAtATime(() => operation(fromPortable(this.env, d1, context, this.waitUntil)));
      this.broadcast(event(value));
      return { ok: true, value, d1: d1.report() };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return { ok: false, error: { code: error.code, detail: error.detail, errors: error.errors }, d1: d1.report() };
    }
  }

  createTask(context: PortableContext, projectId: string, input: TaskInput) {
    return this.write(
      context,
      (ctx) => createTask({ ctx, projectId, input }),
      (task) => ({ type: 'task.created', task, actor: actorSummary(context) }),
    );
  }

  /** A change of column is an ordering change: it lands at the end of the new column. */
  updateTask(context: PortableContext, id: string, input: TaskPatch) {
    return this.write(
      context,
      (ctx) => updateTask({ ctx, id, input }),
      (task) => ({ type: 'task.updated', task, actor: actorSummary(context) }),
    );
  }

  moveTask(context: PortableContext, projectId: string, id: string, input: TaskMove): Promise<BoardResult<Task>> {
    return this.move(context, projectId, id, input);
  }

  /** A socket's move hands over the sessions its access re-read started. */
  private async move(context: PortableContext, projectId: string, id: string, input: TaskMove, socketD1?: D1Sessions) {
    const result = await this.write(
      context,
      (ctx) => moveTask({ ctx, projectId, id, input }),
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

  /** A socket may watch while its actor may read tasks and see the project. */
  protected async mayWatch(ctx: TenantContext, { projectId }: Attachment): Promise<boolean> {
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

  /** For changes made outside the object (edits that move nothing, deletions). */
  broadcast(event: BoardEvent): void {
    this.send(this.ctx.getWebSockets(), event);
  }

  private send(sockets: WebSocket[], message: object) {
    const text = JSON.stringify(message);
    // A socket closing under us is skipped: its close handler updates presence.
    for (const socket of sockets) sendSafely(socket, text);
  }

  private presence(except?: WebSocket) {
    const users = new Map<string, ActorSummary>();
    for (const socket of this.ctx.getWebSockets()) {
      if (socket === except) continue;
      const { user } = socket.deserializeAttachment() as Attachment;
      users.set(`${user.type}:${user.id}`, user);
    }
    this.send(
      this.ctx.getWebSockets().filter((s) => s !== except),
      { type: 'presence', users: [...users.values()] },
    );
  }

  /** The Worker has authenticated the upgrade and checked access to the project; it sends who and where. */
  override async fetch(request: Request): Promise<Response> {
    const context = JSON.parse(request.headers.get('x-strive-context') ?? 'null') as PortableContext | null;
    const projectId = request.headers.get('x-strive-project');
    const rateLimitKey = request.headers.get(RATE_LIMIT_KEY_HEADER);
    if (!context || !projectId || !rateLimitKey || request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade from the Worker', { status: 400 });
    }
    const { client, server } = await this.accept({
      context,
      projectId,
      rateLimitKey,
      user: actorSummary(context),
      window: { start: Date.now(), count: 0 },
    });
    // In the write queue: a move landing while the socket connects is either in this snapshot
    // or broadcast after it, never lost between the two.
    const board = await this.oneAtATime(() =>
      getBoard({ ctx: fromPortable(this.env, D1Sessions.primary(this.env), context, this.waitUntil), projectId }),
    );
    server.send(JSON.stringify({ type: 'snapshot', board }));
    this.presence();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = socket.deserializeAttachment() as Attachment;
    const refuse = (code: string, detail: string, extra: object = {}) => refuseOn(socket, code, detail, extra);
    // Every message counts against the caller's request limit, whatever it is; before anything else.
    if (!(await this.withinRateLimit(socket, attachment))) return;

    const size = typeof message === 'string' ? new TextEncoder().encode(message).length : message.byteLength;
    if (size > SOCKET_LIMITS.maxMessageBytes)
      return refuse('payload_too_large', `Messages are limited to ${SOCKET_LIMITS.maxMessageBytes} bytes.`);
    const now = Date.now();
    const window =
      now - attachment.window.start >= SOCKET_LIMITS.windowMs ? { start: now, count: 0 } : attachment.window;
    window.count++;
    const counted: Attachment = { ...attachment, window };
    socket.serializeAttachment(counted);
    if (window.count > SOCKET_LIMITS.messages) {
      return refuse(
        'rate_limited',
        `At most ${SOCKET_LIMITS.messages} messages per ${SOCKET_LIMITS.windowMs / 1000} s.`,
        {
          retry_after: Math.ceil((window.start + SOCKET_LIMITS.windowMs - now) / 1000),
        },
      );
    }

    let parsed: {
      type?: unknown;
      task_id?: unknown;
      status?: unknown;
      before_id?: unknown;
      after_id?: unknown;
      version?: unknown;
    };
    try {
      parsed = JSON.parse(typeof message === 'string' ? message : new TextDecoder().decode(message));
    } catch {
      return refuse('invalid_request', 'Messages are JSON objects with a `type`.');
    }
    if (parsed?.type === 'ping') return sendSafely(socket, JSON.stringify({ type: 'pong' }));
    if (parsed?.type !== 'move') return refuse('invalid_request', "Unknown message type: send 'move' or 'ping'.");
    const move = parseMove(parsed);
    if ('error' in move) return refuse('invalid_request', move.error);

    // A move acts as its sender is now: a removed member is refused (and the socket closed), a demoted one as what they became.
    const d1 = D1Sessions.primary(this.env);
    const ctx = await this.currentAccess(socket, counted, d1);
    if (!ctx) return;
    if (!ctx.permissions.has('tasks:write'))
      return refuse('forbidden', "Watching only: moving tasks needs the 'tasks:write' permission.");
    const result = await this.move(toPortable(ctx), attachment.projectId, move.task_id, move.input, d1);
    if (result.ok) return;
    if (result.error.code === 'conflict') {
      // A stale move: say so and hand over the task as it is now.
      const task = await getTask({ ctx, id: move.task_id }).catch(() => null);
      return refuse('conflict', result.error.detail, { task });
    }
    return refuse(result.error.code, result.error.detail, result.error.errors ? { errors: result.error.errors } : {});
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    // 1005 (no status) and 1006 (abnormal) are reported, never sent: answer a normal close.
    try {
      socket.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
    this.presence(socket);
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    this.presence(socket);
  }
}

const STATUSES: readonly string[] = TASK_STATUSES;
const UUID = UUID_PATTERN;

/** A socket `move`, checked as strictly as the REST body. */
function parseMove(message: Record<string, unknown>): { task_id: string; input: TaskMove } | { error: string } {
  const { task_id, status, before_id, after_id, version } = message;
  if (typeof task_id !== 'string' || !UUID.test(task_id)) return { error: '`task_id` must be a task id.' };
  if (typeof status !== 'string' || !STATUSES.includes(status))
    return { error: `\`status\` must be one of ${STATUSES.join(', ')}.` };
  for (const [name, value] of [
    ['before_id', before_id],
    ['after_id', after_id],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || !UUID.test(value)))
      return { error: `\`${name}\` must be a task id.` };
  }
  if (!Number.isInteger(version) || (version as number) < 1)
    return { error: '`version` (the task version you saw) is required.' };
  return {
    task_id,
    input: {
      status: status as TaskMove['status'],
      before_id: before_id as string | undefined,
      after_id: after_id as string | undefined,
      version: version as number,
    },
  };
}

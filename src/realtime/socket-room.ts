// The base of every object holding sockets (KANBAN_BOARD, CHAT_SESSION), in partyserver's shape:
// the object implements `onConnect`, `onMessage` and `onClose`; the base owns the rest, once.
// Each socket carries its access as last read (its attachment); every message counts against its
// caller's request rate limit and the room's size and burst limits, and is parsed against the
// room's protocol (a zod discriminated union); `ping` is answered here. Every other message acts:
// the access is read again first and refused, the socket closed, once it has ended. While sockets
// are open an alarm re-reads them all each ACCESS_RECHECK_MS, so a socket that only listens is
// closed too. Refusals carry codes of the one error table (lib/problem.ts).
import { DurableObject } from 'cloudflare:workers';
import type { z } from '@hono/zod-openapi';
import type { Actor, Bindings, TenantContext } from '../env';
import { ACCESS_TTL_MS } from '../auth/access-cache';
import type { Permission } from '../auth/permissions';
import { fromPortable, refreshPortables, toPortable, type PortableContext } from '../auth/tenant';
import { asApiError } from '../db/errors';
import { D1Sessions, type D1Report } from '../db/sessions';
import { ApiError, invalidFrom, type ErrorCode } from '../lib/problem';

/** Every close code a room sends. 1005 and 1006 are reported by the runtime, never sent. */
export const CLOSE_CODES = {
  normal: 1000,
  /** Access ended: removed, deactivated, key revoked, demoted out of what the socket shows. */
  accessEnded: 4403,
  /** What the socket shows was deleted. */
  deleted: 4404,
  /** Service Restart: the organization moved; reconnecting reaches the object of its new place. */
  moved: 1012,
} as const;

/** The access cache's window: no socket outlives its access by longer than a request would. */
export const ACCESS_RECHECK_MS = ACCESS_TTL_MS;

/** What a room is told about who connects, by the Worker that authenticated the upgrade. */
export type Arrival = {
  context: PortableContext;
  /** A socket's: the Worker's rate-limiter key for the caller, so its messages count with their requests. */
  rateLimitKey?: string;
  /** The room's own id: the project, the conversation. */
  room: string;
};

/** What every socket carries: its arrival (the access as last read) and its messages in the current burst window. */
export type SocketAttachment = Arrival & { rateLimitKey: string; window: { start: number; count: number } };

const ARRIVAL_HEADER = 'x-strive-arrival';
/** A room's refusal of a Worker request, as data: an ApiError does not cross the object's boundary. */
const REFUSAL_HEADER = 'x-strive-refusal';
/** The object's D1 work for a request (a D1Report): round trips and bookmarks. */
const D1_HEADER = 'x-strive-d1';

/**
 * The Worker's side: hands `request` (a socket upgrade, or the room's own request with `body`) to
 * a room as `ctx`. The room's D1 work counts with `ctx`'s; its refusal is thrown as the ApiError it was.
 */
export async function enter(
  room: { fetch(request: Request): Promise<Response> },
  ctx: TenantContext,
  request: Request,
  { body, ...arrival }: { room: string; rateLimitKey?: string; body?: string },
): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.set(ARRIVAL_HEADER, JSON.stringify({ context: toPortable(ctx), ...arrival }));
  headers.delete('content-length'); // the body handed on is the validated one
  const response = await room.fetch(
    new Request(request.url, { method: body === undefined ? 'GET' : 'POST', headers, body }),
  );
  const report = response.headers.get(D1_HEADER);
  if (report) ctx.d1.absorb(JSON.parse(report) as D1Report);
  if (response.headers.has(REFUSAL_HEADER)) {
    const { code, detail, errors } = (await response.json()) as Refusal;
    throw new ApiError(code, detail, errors);
  }
  return response;
}

export type Refusal = Pick<ApiError, 'code' | 'detail' | 'errors'>;
export const refusalOf = ({ code, detail, errors }: ApiError): Refusal => ({
  code,
  detail,
  ...(errors ? { errors } : {}),
});

/** A socket with its typed attachment. */
export class Connection {
  constructor(readonly socket: WebSocket) {}

  get state(): SocketAttachment {
    return this.socket.deserializeAttachment() as SocketAttachment;
  }

  set state(state: SocketAttachment) {
    this.socket.serializeAttachment(state);
  }

  /** Sends, unless the socket is closing under us (its close handler does the rest). */
  send(message: object | string) {
    try {
      this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    } catch {
      // A socket closing under us.
    }
  }

  refuse(code: ErrorCode, detail: string, extra: object = {}) {
    this.send({ type: 'error', code, detail, ...extra });
  }

  close(code: keyof typeof CLOSE_CODES, reason: string) {
    try {
      this.socket.close(CLOSE_CODES[code], reason);
    } catch {
      // Already closed.
    }
  }
}

/** Per socket: the largest message, and optionally how many messages a window allows. */
export type RoomLimits = { maxMessageBytes: number; burst?: { messages: number; windowMs: number } };

/** What a message that acts is handed: its sender's access as it is now, and the D1 sessions that read it. */
export type Access = { ctx: TenantContext; d1: D1Sessions };

/** One read per person or key, however many sockets they have open. */
const actorKey = (actor: Actor) =>
  actor.type === 'user' ? `user:${actor.user.id}` : actor.type === 'api_key' ? `key:${actor.keyId}` : actor.type;

const PING = JSON.stringify({ type: 'pong' });

export abstract class SocketRoom<M extends { type: string }, Prepared = void> extends DurableObject<Bindings> {
  protected readonly waitUntil = (promise: Promise<unknown>) => this.ctx.waitUntil(promise);

  /** The messages a client may send (besides `ping`): a discriminated union on `type`. */
  protected abstract readonly protocol: z.ZodType<M>;
  protected abstract readonly limits: RoomLimits;
  /** What the sockets show, as a refusal names it ('this board'). */
  protected abstract readonly shows: string;
  /** What every message of the protocol needs, and how its refusal reads. */
  protected abstract readonly acting: { permission: Permission; refusal: string };

  /**
   * Whether a socket's actor, with `ctx` their access as it is now, may still read what the
   * socket shows (the board, the conversation). Read-only: acting is the message's own check.
   */
  protected abstract mayWatch(ctx: TenantContext, room: string): Promise<boolean>;
  /** A socket is accepted: what it is sent first. Nothing may await before its first send. */
  protected abstract onConnect(connection: Connection, ctx: TenantContext, prepared: Prepared): void | Promise<void>;
  /** A message of the protocol, from a sender whose access has just been read again and allows it. */
  protected abstract onMessage(connection: Connection, message: M, access: Access): Promise<void>;
  /** A socket has gone. */
  protected onClose(_connection: Connection): void {}
  /**
   * Before the accept: refuse the arrival (throw an ApiError) or prepare what onConnect sends;
   * the accept and onConnect follow with nothing awaited in between.
   */
  protected beforeConnect(_ctx: TenantContext, _room: string): Prepared | Promise<Prepared> {
    return undefined as Prepared;
  }
  /** A request from the Worker that is not an upgrade. */
  protected onRequest(_request: Request, _access: Access, _room: string): Promise<Response> {
    throw new ApiError('upgrade_required', 'This object speaks WebSocket.');
  }

  /**
   * Requests from the Worker (which has authenticated the caller and checked access): the upgrade
   * or the object's own requests. An ApiError goes back as a refusal, with the D1 work so far.
   */
  override async fetch(request: Request): Promise<Response> {
    const arrival = JSON.parse(request.headers.get(ARRIVAL_HEADER) ?? 'null') as Arrival | null;
    if (!arrival) return new Response('expected a request from the Worker', { status: 400 });
    // A room decides from what it reads: the primary, always.
    const d1 = D1Sessions.primary(this.env);
    const ctx = fromPortable(this.env, d1, arrival.context, this.waitUntil);
    try {
      if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
        return await this.onRequest(request, { ctx, d1 }, arrival.room);
      if (!arrival.rateLimitKey) return new Response('expected a request from the Worker', { status: 400 });
      const prepared = await this.beforeConnect(ctx, arrival.room);
      await this.recheckWithin(ACCESS_RECHECK_MS);
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server);
      const connection = new Connection(server);
      connection.state = { ...arrival, rateLimitKey: arrival.rateLimitKey, window: { start: Date.now(), count: 0 } };
      await this.onConnect(connection, ctx, prepared);
      return new Response(null, { status: 101, webSocket: client });
    } catch (thrown) {
      const error = asApiError(thrown);
      if (!error) throw thrown;
      return Response.json(refusalOf(error), {
        status: error.status,
        headers: { [REFUSAL_HEADER]: '1', [D1_HEADER]: JSON.stringify(d1.report()) },
      });
    }
  }

  /**
   * Closes every socket (RPC): the organization has moved to another shard, and its object may be
   * another one now (another jurisdiction); clients reconnect and read a fresh snapshot there.
   */
  closeAll(reason: string): number {
    const open = this.connections();
    for (const connection of open) connection.close('moved', reason);
    return open.length;
  }

  /** Headers that hand a room's D1 work for a request back to the Worker (fromRoom absorbs them). */
  protected d1Headers(d1: D1Sessions, refused = false): Record<string, string> {
    return { [D1_HEADER]: JSON.stringify(d1.report()), ...(refused ? { [REFUSAL_HEADER]: '1' } : {}) };
  }

  /** Every open socket (or all but one). */
  protected connections(except?: WebSocket): Connection[] {
    return this.ctx
      .getWebSockets()
      .filter((socket) => socket !== except)
      .map((socket) => new Connection(socket));
  }

  /** One message to every socket, serialised once. */
  protected broadcastToSockets(message: object, except?: WebSocket) {
    const text = JSON.stringify(message);
    for (const connection of this.connections(except)) connection.send(text);
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const connection = new Connection(socket);
    try {
      const parsed = await this.admit(connection, message);
      if (parsed === null) return;
      const access = await this.currentAccess(connection, D1Sessions.primary(this.env));
      if (!access) return;
      if (!access.ctx.permissions.has(this.acting.permission))
        return connection.refuse('forbidden', this.acting.refusal);
      await this.onMessage(connection, parsed, access);
    } catch (thrown) {
      const error = asApiError(thrown);
      if (error) return connection.refuse(error.code, error.detail, error.errors ? { errors: error.errors } : {});
      // Whatever failed, the client hears of it, and the room takes the next message.
      console.error(`${this.shows}: a socket message failed`, thrown);
      connection.refuse('internal', 'The message could not be handled on our side; try again.');
    }
  }

  /**
   * The limits and the protocol: the message parsed, or null once it is refused or answered
   * (`ping`). Every message counts against its caller's request limit first, whatever it is.
   */
  private async admit(connection: Connection, message: string | ArrayBuffer): Promise<M | null> {
    const state = connection.state;
    const { success } = await this.env.RATE_LIMITER.limit({ key: state.rateLimitKey });
    if (!success)
      throw new ApiError('rate_limited', 'Too many requests for this user or API key: try again within a minute.');
    const { maxMessageBytes, burst } = this.limits;
    const size = typeof message === 'string' ? new TextEncoder().encode(message).length : message.byteLength;
    if (size > maxMessageBytes)
      throw new ApiError('payload_too_large', `Messages are limited to ${maxMessageBytes} bytes.`);
    if (burst) {
      const now = Date.now();
      const window = now - state.window.start >= burst.windowMs ? { start: now, count: 0 } : state.window;
      window.count++;
      connection.state = { ...state, window };
      if (window.count > burst.messages) {
        const retryAfter = Math.ceil((window.start + burst.windowMs - now) / 1000);
        connection.refuse('rate_limited', `At most ${burst.messages} messages per ${burst.windowMs / 1000} s.`, {
          retry_after: retryAfter,
        });
        return null;
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(typeof message === 'string' ? message : new TextDecoder().decode(message));
    } catch {
      throw new ApiError('invalid_request', 'Messages are JSON objects with a `type`.');
    }
    if ((json as { type?: unknown } | null)?.type === 'ping') {
      connection.send(PING);
      return null;
    }
    const parsed = this.protocol.safeParse(json);
    if (!parsed.success) throw invalidFrom(parsed.error, 'The message is invalid.', 'message');
    return parsed.data;
  }

  /**
   * The socket's access now, read again from the catalog (one query): a member removed, demoted
   * or whose organization changed tier since connecting acts as they are today. A socket whose
   * access has ended is told, closed, and gets null.
   */
  private async currentAccess(connection: Connection, d1: D1Sessions): Promise<Access | null> {
    const ctx = (await this.reread([connection], d1)).get(connection.socket);
    return ctx ? { ctx, d1 } : null;
  }

  /** The periodic re-check: every open socket's access, read in one catalog round trip. */
  override async alarm(): Promise<void> {
    const open = this.connections().filter(({ socket }) => socket.readyState === WebSocket.OPEN);
    if (open.length === 0) return;
    // The next one first: a re-check that fails (D1 unreachable) is tried again then, not dropped.
    await this.ctx.storage.setAlarm(Date.now() + ACCESS_RECHECK_MS);
    try {
      await this.reread(open, D1Sessions.primary(this.env));
    } catch (error) {
      console.error('socket access re-check failed', error);
    }
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    // 1005 (no status) and 1006 (abnormal) are reported, never sent: answer a normal close.
    const connection = new Connection(socket);
    try {
      socket.close(code === 1005 || code === 1006 ? CLOSE_CODES.normal : code, reason);
    } catch {
      // Already closed.
    }
    this.onClose(connection);
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    this.onClose(new Connection(socket));
  }

  /** Schedules the re-check no later than `ms` from now (an alarm running now reads as none set). */
  private async recheckWithin(ms: number) {
    const due = Date.now() + ms;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > due) await this.ctx.storage.setAlarm(due);
  }

  /**
   * Reads the access of each actor behind `connections` (one batch), keeps each socket's
   * attachment up to date and closes those whose access has ended. Answers each socket's context, or null.
   */
  private async reread(connections: Connection[], d1: D1Sessions): Promise<Map<WebSocket, TenantContext | null>> {
    const held = connections.map((connection) => ({ connection, state: connection.state }));
    const byActor = [...Map.groupBy(held, ({ state }) => actorKey(state.context.actor)).values()];
    const fresh = await refreshPortables(
      this.env,
      d1,
      byActor.map(([first]) => first!.state.context),
    );
    const answers = new Map<WebSocket, TenantContext | null>();
    await Promise.all(
      byActor.map(async (group, i) => {
        const context = fresh[i]!;
        const ctx = context && fromPortable(this.env, d1, context, this.waitUntil);
        const allowed = ctx !== null && (await this.mayWatch(ctx, group[0]!.state.room));
        for (const { connection, state } of group) {
          if (connection.socket.readyState !== WebSocket.OPEN) continue;
          if (allowed) {
            connection.state = { ...state, context };
          } else {
            connection.refuse('forbidden', `Your access to ${this.shows} has ended.`);
            connection.close('accessEnded', 'access ended');
          }
          answers.set(connection.socket, allowed ? ctx : null);
        }
      }),
    );
    return answers;
  }
}

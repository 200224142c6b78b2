// What every object holding sockets (KANBAN_BOARD, CHAT_SESSION) does about its sockets' access:
// each socket carries the access it was opened with; every message counts against its caller's
// request rate limit; a message that acts reads the access again first; and while sockets are
// open, an alarm re-reads every socket's access each ACCESS_RECHECK_MS, so a socket that only
// listens is closed too once its access ends. The object says what a socket may still watch.
import { DurableObject } from 'cloudflare:workers';
import type { Actor, Bindings, TenantContext } from '../env';
import { ACCESS_TTL_MS } from '../auth/access-cache';
import { fromPortable, refreshPortables, type PortableContext } from '../auth/tenant';
import { D1Sessions } from '../db/sessions';

/** The close code of a socket whose access has ended (removed, deactivated, key revoked, demoted out of what it shows). */
export const ACCESS_ENDED_CLOSE_CODE = 4403;

/** The Worker's rate-limiter key for the caller, so a socket's messages count with their requests. */
export const RATE_LIMIT_KEY_HEADER = 'x-strive-rate-limit-key';

/** The access cache's window: no socket outlives its access by longer than a request would. */
export const ACCESS_RECHECK_MS = ACCESS_TTL_MS;

/** What every socket carries: its access as last read, and whose requests its messages count with. */
export type SocketAttachment = { context: PortableContext; rateLimitKey: string };

/** Sends, unless the socket is closing under us. */
export function sendSafely(socket: WebSocket, text: string) {
  try {
    socket.send(text);
  } catch {
    // A socket closing under us.
  }
}

export const refuse = (socket: WebSocket, code: string, detail: string, extra: object = {}) =>
  sendSafely(socket, JSON.stringify({ type: 'error', code, detail, ...extra }));

/** One read per person or key, however many sockets they have open. */
const actorKey = (actor: Actor) =>
  actor.type === 'user' ? `user:${actor.user.id}` : actor.type === 'api_key' ? `key:${actor.keyId}` : actor.type;

type Held<A> = { socket: WebSocket; attachment: A };

export abstract class SocketAccess<A extends SocketAttachment> extends DurableObject<Bindings> {
  protected readonly waitUntil = (promise: Promise<unknown>) => this.ctx.waitUntil(promise);

  /**
   * Whether a socket's actor, with `ctx` their access as it is now, may still read what the
   * socket shows (the board, the conversation). Read-only: acting is the message's own check.
   */
  protected abstract mayWatch(ctx: TenantContext, attachment: A): Promise<boolean>;
  /** What the sockets show, as a refusal names it ('this board'). */
  protected abstract readonly shows: string;

  /**
   * Accepts a socket (hibernatable) carrying `attachment`. Everything that awaits happens before
   * the accept, so a caller may send to the socket with nothing in between.
   */
  protected async accept(attachment: A): Promise<{ client: WebSocket; server: WebSocket }> {
    await this.recheckWithin(ACCESS_RECHECK_MS);
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(attachment);
    return { client, server };
  }

  /** Counts a message against its caller's request rate limit; false (and the socket told) once over it. */
  protected async withinRateLimit(socket: WebSocket, attachment: A): Promise<boolean> {
    const { success } = await this.env.RATE_LIMITER.limit({ key: attachment.rateLimitKey });
    if (!success)
      refuse(socket, 'rate_limited', 'Too many requests for this user or API key: try again within a minute.');
    return success;
  }

  /**
   * The socket's access now, read again from the catalog (one query): a member removed, demoted
   * or whose organization changed tier since connecting acts as they are today. A socket whose
   * access has ended is told, closed with ACCESS_ENDED_CLOSE_CODE, and gets null.
   */
  protected async currentAccess(socket: WebSocket, attachment: A, d1: D1Sessions): Promise<TenantContext | null> {
    return (await this.reread([{ socket, attachment }], d1)).get(socket) ?? null;
  }

  /** The periodic re-check: every open socket's access, read in one catalog round trip. */
  override async alarm(): Promise<void> {
    const sockets = this.ctx.getWebSockets().filter((socket) => socket.readyState === WebSocket.OPEN);
    if (sockets.length === 0) return;
    // The next one first: a re-check that fails (D1 unreachable) is tried again then, not dropped.
    await this.ctx.storage.setAlarm(Date.now() + ACCESS_RECHECK_MS);
    try {
      await this.reread(
        sockets.map((socket) => ({ socket, attachment: socket.deserializeAttachment() as A })),
        D1Sessions.primary(this.env),
      );
    } catch (error) {
      console.error('socket access re-check failed', error);
    }
  }

  /** Schedules the re-check no later than `ms` from now (an alarm running now reads as none set). */
  private async recheckWithin(ms: number) {
    const due = Date.now() + ms;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > due) await this.ctx.storage.setAlarm(due);
  }

  /**
   * Reads the access of each actor behind `held` (one batch), keeps each socket's attachment up
   * to date and closes those whose access has ended. Answers each socket's context, or null.
   */
  private async reread(held: Held<A>[], d1: D1Sessions): Promise<Map<WebSocket, TenantContext | null>> {
    const byActor = [...Map.groupBy(held, ({ attachment }) => actorKey(attachment.context.actor)).values()];
    const fresh = await refreshPortables(
      this.env,
      d1,
      byActor.map(([first]) => first!.attachment.context),
    );
    const answers = new Map<WebSocket, TenantContext | null>();
    await Promise.all(
      byActor.map(async (group, i) => {
        const context = fresh[i]!;
        const ctx = context && fromPortable(this.env, d1, context, this.waitUntil);
        const allowed = ctx !== null && (await this.mayWatch(ctx, group[0]!.attachment));
        for (const { socket, attachment } of group) {
          if (socket.readyState !== WebSocket.OPEN) continue;
          if (allowed) {
            socket.serializeAttachment({ ...attachment, context });
          } else {
            refuse(socket, 'forbidden', `Your access to ${this.shows} has ended.`);
            socket.close(ACCESS_ENDED_CLOSE_CODE, 'access ended');
          }
          answers.set(socket, allowed ? ctx : null);
        }
      }),
    );
    return answers;
  }
}

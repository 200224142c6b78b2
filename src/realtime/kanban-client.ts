// The Worker's side of KANBAN_BOARD: which object serves a project (its name is made here only),
// its writes' answers turned back into values or ApiErrors (their D1 round trips count towards
// the caller's, their bookmarks join its), and the events of changes made outside it.
import { waitUntil } from 'cloudflare:workers';
import type { Bindings, TenantContext } from '../env';
import { toPortable, type PortableContext } from '../auth/tenant';
import { placedObject, type OrganizationPlace } from '../db/places';
import type { D1Report } from '../db/sessions';
import { ApiError } from '../lib/problem';
import type { Task } from '../modules/tasks/service';
import type { KanbanBoard } from './kanban-board';
import { enter, type Refusal } from './socket-room';

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
 * What a board write answers: a refusal as data, since an ApiError does not survive the RPC
 * boundary as itself; `d1`: the write's round trips and bookmarks, which count as the caller's.
 */
export type BoardResult<T> = ({ ok: true; value: T } | { ok: false; error: Refusal }) & { d1: D1Report };

export function actorSummary({ actor }: Pick<PortableContext, 'actor'>): ActorSummary {
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

type Board = DurableObjectStub<KanbanBoard>;

export function boards(env: Bindings) {
  /** The project's board, placed with its organization's data (db/places.ts). */
  const get = (organization: OrganizationPlace, projectId: string): Board =>
    placedObject(env, env.KANBAN_BOARD, organization, `${organization.id}:${projectId}`);
  return {
    get,

    /** Runs a write on the project's board as `ctx`, its D1 work counted with `ctx`'s; a refusal is thrown. */
    async write<T>(
      ctx: TenantContext,
      projectId: string,
      call: (board: Board, context: PortableContext) => Promise<BoardResult<T>>,
    ): Promise<T> {
      const result = (await call(get(ctx.organization, projectId), toPortable(ctx))) as BoardResult<T>;
      ctx.d1.absorb(result.d1);
      if (!result.ok) throw new ApiError(result.error.code, result.error.detail, result.error.errors);
      return result.value;
    },

    /** Tells a project's watchers about a change made outside its board object, off the latency path. */
    announce(organization: OrganizationPlace, projectId: string, event: BoardEvent) {
      waitUntil(
        get(organization, projectId)
          .broadcast(event)
          .catch((error) => console.error('board broadcast failed', error)),
      );
    },

    /** Hands a socket upgrade, authenticated as `ctx`, to the project's board. */
    connect: (ctx: TenantContext, projectId: string, request: Request, rateLimitKey: string) =>
      enter(get(ctx.organization, projectId), ctx, request, { room: projectId, rateLimitKey }),
  };
}

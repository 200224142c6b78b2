// The Worker's side of KANBAN_BOARD: which object serves a project, and turning its answers back
// into responses (its D1 round trips count towards the request's, its bookmarks join the response's).
import type { Context } from 'hono';
import { placedObject } from '../db/places';
import type { AppEnv } from '../env';
import { toPortable } from '../auth/tenant';
import { ApiError } from '../lib/problem';
import type { BoardEvent, BoardResult, KanbanBoard } from './kanban-board';

export function boardOf(c: Context<AppEnv>, projectId: string): DurableObjectStub<KanbanBoard> {
  const { organization } = c.get('tenant');
  return placedObject(c.env, c.env.KANBAN_BOARD, organization, `${organization.id}:${projectId}`);
}

/** Runs a write on the project's board object and unwraps its answer. */
export async function onBoard<T>(
  c: Context<AppEnv>,
  projectId: string,
  call: (board: DurableObjectStub<KanbanBoard>, context: ReturnType<typeof toPortable>) => Promise<BoardResult<T>>,
): Promise<T> {
  const result = (await call(boardOf(c, projectId), toPortable(c.get('tenant')))) as BoardResult<T>;
  c.get('d1').absorb(result.d1);
  if (!result.ok) throw new ApiError(result.error.code, result.error.detail, result.error.errors);
  return result.value;
}

/** Tells a project's watchers about a change made outside its board object, off the latency path. */
export function announce(c: Context<AppEnv>, projectId: string, event: BoardEvent) {
  c.executionCtx.waitUntil(
    boardOf(c, projectId)
      .broadcast(event)
      .catch((error) => console.error('board broadcast failed', error)),
  );
}

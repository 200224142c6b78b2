// The Worker's side of KANBAN_BOARD: which object serves a project, and turning its answers back
// into responses (its D1 round trips count towards the request's, its bookmarks join the response's).
import type { Context } from 'hono';
import type { TenantEnv } from '../env';
import { toPortable } from '../auth/tenant';
import { ApiError } from '../lib/problem';
import type { BoardEvent, BoardResult, KanbanBoard } from './kanban-board';

export function boardOf(c: Context<TenantEnv>, projectId: string): DurableObjectStub<KanbanBoard> {
  const namespace = c.env.KANBAN_BOARD;
  return namespace.get(namespace.idFromName(`${c.get('tenant').organization.id}:${projectId}`));
}

/** Runs a write on the project's board object and unwraps its answer. */
export async function onBoard<T>(
  c: Context<TenantEnv>,
  projectId: string,
  call: (board: DurableObjectStub<KanbanBoard>, context: ReturnType<typeof toPortable>) => Promise<BoardResult<T>>,
): Promise<T> {
  const result = (await call(boardOf(c, projectId), toPortable(c.get('tenant')))) as BoardResult<T>;
  c.get('d1').absorb(result.d1);
  if (!result.ok) throw new ApiError(result.error.code, result.error.detail, result.error.errors);
  return result.value;
}

/** Tells a project's watchers about a change made outside its board object, off the latency path. */
export function announce(c: Context<TenantEnv>, projectId: string, event: BoardEvent) {
  c.executionCtx.waitUntil(
    boardOf(c, projectId)
      .broadcast(event)
      .catch((error) => console.error('board broadcast failed', error)),
  );
}

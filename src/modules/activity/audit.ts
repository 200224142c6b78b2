// The one audit writer. A service puts the row it returns into the same batch as the change it
// describes, so there is never a change without its row (nor a row without its change).
import { eq } from 'drizzle-orm';
import { activity_logs } from '../../db/tenant';
import type { Actor, TenantContext } from '../../env';
import { uuidv7 } from '../../lib/ids';

type Snapshot = Record<string, unknown>;

/** Fields that never reach an audit row, whatever the resource. */
const SECRET_FIELD = /(^|_)(key_hash|secret|token|password|key)$/;

function withoutSecrets(data: Snapshot | null | undefined): Snapshot | null {
  if (!data) return null;
  return Object.fromEntries(Object.entries(data).filter(([field]) => !SECRET_FIELD.test(field)));
}

/**
 * The fields an update really changes, before and after; null when nothing changes, so the
 * caller can skip a no-op update (no write, no audit row).
 */
export function changes<T extends Snapshot>(before: T, patch: Partial<T>): { old: Partial<T>; new: Partial<T> } | null {
  const changed = (Object.keys(patch) as (keyof T)[]).filter(
    (field) => patch[field] !== undefined && JSON.stringify(patch[field]) !== JSON.stringify(before[field]),
  );
  if (changed.length === 0) return null;
  const pick = (source: Partial<T>) => Object.fromEntries(changed.map((f) => [f, source[f]])) as Partial<T>;
  return { old: pick(before), new: pick(patch) };
}

export function actorColumns(actor: Actor) {
  switch (actor.type) {
    case 'user':
      return { actor_type: 'user' as const, actor_id: actor.user.id, user_id: actor.user.id };
    case 'api_key':
      return { actor_type: 'api_key' as const, actor_id: actor.keyId, user_id: actor.userId };
    case 'webhook':
      return { actor_type: 'webhook' as const, actor_id: actor.source, user_id: null };
    case 'system':
      return { actor_type: 'system' as const, actor_id: null, user_id: null };
  }
}

export type AuditEntry = {
  action: `${string}.${string}`;
  resource_type: string;
  resource_id: string | null;
  old?: Snapshot | null;
  new?: Snapshot | null;
};

export function auditRow(ctx: TenantContext, entry: AuditEntry, id = uuidv7()) {
  return ctx.store.insert(activity_logs, {
    id,
    ...actorColumns(ctx.actor),
    action: entry.action,
    resource_type: entry.resource_type,
    resource_id: entry.resource_id,
    old_data: withoutSecrets(entry.old),
    new_data: withoutSecrets(entry.new),
    ip_address: ctx.request.ip,
    user_agent: ctx.request.userAgent,
    request_id: ctx.request.requestId,
    created_at: new Date().toISOString(),
  });
}

/**
 * Organizations, members and API keys live in the catalog, a different database from the
 * organization's audit log, so no single batch holds both. Fail closed: the audit row is written
 * first and withdrawn if the change then fails, so no change is ever missing its row.
 */
export async function auditedCatalogChange<T>(ctx: TenantContext, entry: AuditEntry, change: () => Promise<T>): Promise<T> {
  const id = uuidv7();
  await auditRow(ctx, entry, id).run();
  try {
    return await change();
  } catch (error) {
    await ctx.store.delete(activity_logs, eq(activity_logs.id, id)).run();
    throw error;
  }
}

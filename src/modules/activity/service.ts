import { and, eq, gte, lt } from 'drizzle-orm';
import { activity_logs } from '../../db/tenant';
import type { TenantContext } from '../../env';
import { requirePermission } from '../../auth/tenant';
import { newestFirst } from '../../lib/pagination';
import type { ActivityQuery } from './schemas';

/** One query on the shard, served by (organization_id, created_at) or (…, resource_type, resource_id). */
export async function listActivity({ ctx, input }: { ctx: TenantContext; input: ActivityQuery }) {
  requirePermission(ctx, 'activity:read');
  return newestFirst(activity_logs.id, input, (after) =>
    ctx.store.select(
      activity_logs,
      and(
        input.resource_type ? eq(activity_logs.resource_type, input.resource_type) : undefined,
        input.resource_id ? eq(activity_logs.resource_id, input.resource_id) : undefined,
        input.user_id ? eq(activity_logs.user_id, input.user_id) : undefined,
        input.action ? eq(activity_logs.action, input.action) : undefined,
        input.from ? gte(activity_logs.created_at, input.from) : undefined,
        input.to ? lt(activity_logs.created_at, input.to) : undefined,
        after,
      ),
    ),
  );
}

// Every access by platform staff to an organization they are not in is written to that
// organization's activity log, off the latency path. Runs in the tenant app's chain, after
// resolveTenant: a user acting there without a member role is platform staff (TenantContext.role).
import { createMiddleware } from 'hono/factory';
import { D1Sessions } from '../../db/sessions';
import { shardDb } from '../../db/shards';
import { TenantStore } from '../../db/tenant-store';
import type { TenantEnv } from '../../env';
import { auditRow } from './audit';

export const auditPlatformAccess = createMiddleware<TenantEnv>(async (c, next) => {
  const tenant = c.get('tenant');
  const { actor } = tenant;
  if (actor.type === 'user' && tenant.role === null) {
    // Its own sessions: a write off the path is not the request's (its round trips, its far hops).
    const store = new TenantStore(
      shardDb(c.env, tenant.organization.shard, D1Sessions.primary(c.env)),
      tenant.organization.id,
    );
    c.executionCtx.waitUntil(
      auditRow(
        { ...tenant, store },
        {
          action: 'organization.platform_access',
          resource_type: 'organization',
          resource_id: tenant.organization.id,
          new: { method: c.req.method, path: c.req.path, global_role: actor.user.role },
        },
      )
        .run()
        .catch((error) => console.error('platform access audit failed', error)),
    );
  }
  await next();
});

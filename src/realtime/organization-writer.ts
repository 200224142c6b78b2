// ORGANIZATION_WRITER: one per organization, placed at its shard's region (db/places.ts). It runs
// the requests the Worker hands it (realtime/beside.ts) through the Worker's own routes, so that
// a write of several D1 round trips costs the client one far hop. It holds no state: concurrent
// requests run side by side, as in the Worker; D1 decides their conflicts, as it does there.
import { DurableObject } from 'cloudflare:workers';
import { createApp } from '../app';
import type { Bindings } from '../env';

let app: ReturnType<typeof createApp> | undefined;

export class OrganizationWriter extends DurableObject<Bindings> {
  override fetch(request: Request): Promise<Response> {
    // Built once per isolate, on the first request it runs.
    app ??= createApp({ beside: true });
    return Promise.resolve(
      app.fetch(request, this.env, {
        waitUntil: (promise) => this.ctx.waitUntil(promise),
        passThroughOnException: () => {},
        props: {},
      }),
    );
  }
}

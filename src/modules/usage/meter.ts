// Usage events: produced where the usage happens, sent to USAGE_QUEUE off the latency path
// (waitUntil), counted by the queue consumer. Each event carries its own id, so the consumer can
// count it exactly once under at-least-once delivery.
import type { USAGE_RESOURCE_TYPES } from '../../db/enums';
import { uuidv7 } from '../../lib/ids';

export type UsageResource = (typeof USAGE_RESOURCE_TYPES)[number];

export type UsageEvent = {
  id: string;
  organization_id: string;
  /** The organization's shard: the consumer writes there without a catalog look-up. */
  shard: number;
  user_id: string | null;
  resource_type: UsageResource;
  /** What within the type: a model, a route, an asset id… ('' when nothing finer applies). */
  resource_name: string;
  /** May be negative: a deleted asset frees storage, a removed member a seat. */
  quantity: number;
  occurred_at: string;
};

export type UsageRecord = {
  resource_type: UsageResource;
  quantity: number;
  resource_name?: string;
  /** Defaults to the meter's user. */
  user_id?: string | null;
};

/** One per request (or Durable Object turn): knows the organization and who acts. */
export class UsageMeter {
  constructor(
    private readonly queue: Queue<UsageEvent>,
    private readonly waitUntil: (promise: Promise<unknown>) => void,
    private readonly organization: { id: string; shard: number },
    private readonly userId: string | null,
  ) {}

  /** Queues the event without waiting for the queue; returns it (its id names it elsewhere). */
  record(usage: UsageRecord): UsageEvent {
    const event: UsageEvent = {
      id: uuidv7(),
      organization_id: this.organization.id,
      shard: this.organization.shard,
      user_id: usage.user_id === undefined ? this.userId : usage.user_id,
      resource_type: usage.resource_type,
      resource_name: usage.resource_name ?? '',
      quantity: usage.quantity,
      occurred_at: new Date().toISOString(),
    };
    this.waitUntil(
      this.queue.send(event, { contentType: 'json' }).catch((error) => console.error(`usage event ${event.id} not queued`, error)),
    );
    return event;
  }
}

// Usage events: produced where the usage happens, sent to USAGE_QUEUE off the latency path
// (waitUntil), counted by the queue consumer. Each event carries its own id, so the consumer can
// count it exactly once under at-least-once delivery.
import type { USAGE_RESOURCE_TYPES } from '../db/enums';
import { uuidv7 } from './ids';

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

/** A usage event that could not be counted (or queued), kept for replay to strive-usage. */
export const INSERT_DEAD_LETTER =
  'INSERT INTO usage_dead_letters (id, organization_id, event, reason, attempts) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING';

/** The pauses before sending an event again when the queue refuses it (within waitUntil). */
export const SEND_RETRY_DELAYS_MS = [50, 500];

/** One per request (or Durable Object turn): knows the organization and who acts. */
export class UsageMeter {
  constructor(
    private readonly queue: Queue<UsageEvent>,
    private readonly waitUntil: (promise: Promise<unknown>) => void,
    private readonly organization: { id: string; shard: number },
    private readonly userId: string | null,
    /** The catalog: where an event the queue keeps refusing is kept (usage_dead_letters). */
    private readonly catalog: D1Database,
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
    this.waitUntil(this.send(event));
    return event;
  }

  /**
   * Sends the event, again after each pause of SEND_RETRY_DELAYS_MS while the queue refuses it;
   * then keeps it with the dead letters (replayable like them), and when even that fails logs it
   * whole as one JSON line, the record left to replay it from.
   */
  private async send(event: UsageEvent): Promise<void> {
    let failure: unknown;
    for (const delay of [0, ...SEND_RETRY_DELAYS_MS]) {
      if (delay > 0) await scheduler.wait(delay);
      try {
        await this.queue.send(event, { contentType: 'json' });
        return;
      } catch (error) {
        failure = error;
      }
    }
    const reason = `not queued on strive-usage (${SEND_RETRY_DELAYS_MS.length + 1} attempts): ${String(failure)}`;
    try {
      await this.catalog
        .prepare(INSERT_DEAD_LETTER)
        .bind(event.id, event.organization_id, JSON.stringify(event), reason, 0)
        .run();
      console.error(`usage event ${event.id} not queued, kept in usage_dead_letters`, failure);
    } catch (error) {
      console.error(
        JSON.stringify({
          message: 'usage event not queued and not kept: replay it from this line',
          reason,
          error: String(error),
          event,
        }),
      );
    }
  }
}

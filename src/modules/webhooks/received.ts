// The answer every webhook gives a verified event: 200, and whether it changed anything (a replay,
// an older event or an ignored type does not). Never a 4xx for a valid event: it would be retried.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env';

export const WebhookReceived = z.object({ received: z.literal(true), applied: z.boolean() }).openapi('WebhookReceived');

export const received = (c: Context<AppEnv>, applied: boolean) => c.json({ received: true as const, applied }, 200);

// One error type for the whole API, rendered as RFC 9457 problem+json. The set of codes is
// closed: each maps to exactly one status here and nowhere else.
import type { z } from '@hono/zod-openapi';

export const ERROR_CODES = {
  invalid_request: { status: 400, title: 'Invalid request' },
  unauthenticated: { status: 401, title: 'Unauthenticated' },
  user_not_synced: { status: 401, title: 'User not synced' },
  plan_required: { status: 402, title: 'Plan required' },
  quota_exceeded: { status: 402, title: 'Quota exceeded' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  conversation_full: { status: 409, title: 'Conversation full' },
  generation_in_progress: { status: 409, title: 'Generation in progress' },
  length_required: { status: 411, title: 'Length required' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable' },
  region_unavailable: { status: 422, title: 'Region unavailable' },
  upgrade_required: { status: 426, title: 'Upgrade required' },
  rate_limited: { status: 429, title: 'Rate limited' },
  internal: { status: 500, title: 'Internal error' },
  provider_error: { status: 502, title: 'Model provider error' },
  not_configured: { status: 503, title: 'Not configured' },
  moving: { status: 503, title: 'Moving' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type FieldError = { path: string; message: string };

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
    this.name = 'ApiError';
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

export const notFound = (what = 'resource') => new ApiError('not_found', `No such ${what}.`);
export const forbidden = (permission: string) =>
  new ApiError('forbidden', `This action needs the '${permission}' permission.`);
export const conflict = (detail: string) => new ApiError('conflict', detail);
/** A write to an organization that is being moved between shards: sent again shortly, it lands. */
export const organizationMoving = () =>
  new ApiError(
    'moving',
    'The organization is being moved to another shard: writes resume in a few seconds; reads go on meanwhile.',
  );
export const invalid = (path: string, message: string) => new ApiError('invalid_request', message, [{ path, message }]);

/** A zod refusal (of a request part, a socket message): every issue named, each unknown field as its own. */
export function invalidFrom(error: z.ZodError, detail: string, target: string): ApiError {
  const at = (path: PropertyKey[]) => (path.length ? path.join('.') : target);
  return new ApiError(
    'invalid_request',
    detail,
    error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ path: at([...issue.path, key]), message: 'Unknown field.' }))
        : [{ path: at(issue.path), message: issue.message }],
    ),
  );
}

export function problemBody(error: ApiError, requestId: string | undefined) {
  return {
    type: `https://strive.dev/problems/${error.code}`,
    title: ERROR_CODES[error.code].title,
    status: error.status,
    code: error.code,
    detail: error.detail,
    ...(error.errors ? { errors: error.errors } : {}),
    request_id: requestId ?? '',
  };
}

/** RFC 9110 §11.6.1: a 401 must name the scheme to authenticate with, wherever it is thrown. */
export function problemHeaders(error: ApiError): Record<string, string> {
  return {
    'content-type': 'application/problem+json',
    ...(error.status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
    // However the refusal travelled (from an object, as data), when to send the write again.
    ...(error.code === 'moving' ? { 'retry-after': '5' } : {}),
    ...error.headers,
  };
}

// Field schemas shared by every module, so a tag or an email means the same everywhere.
import { z } from '@hono/zod-openapi';
import { outboundUrlRefusal } from './outbound-url';
import { hasSearchWord } from './text';

const Tag = z.string().trim().toLowerCase().min(1).max(64);
/** A row holds at most this many tags (so a filter naming more could match nothing). */
const MAX_TAGS = 50;

/** Trimmed, lower-cased, de-duplicated; at most 50 tags of at most 64 characters. */
export const Tags = z
  .array(Tag)
  .max(MAX_TAGS)
  .transform((tags) => [...new Set(tags)])
  .openapi({
    description: 'Trimmed, lower-cased and de-duplicated; ≤ 50 tags of ≤ 64 characters',
    example: ['vip', 'retail'],
  });

export const Email = z.string().trim().toLowerCase().pipe(z.email()).openapi({ example: 'ada@example.com' });

/**
 * A JSON object of at most `kb` kilobytes once serialised, holding the client's data: any keys,
 * kept as sent, except that the keys of `known` (ones the product reads) are checked when present.
 */
export const JsonObject = <Known extends z.ZodRawShape>(kb: number, known: Known = {} as Known) =>
  z
    .object(known)
    .partial()
    .catchall(z.unknown())
    .refine((value) => JSON.stringify(value).length <= kb * 1024, `At most ${kb} KB of JSON.`);

export const Id = z.string().uuid();

/**
 * A query parameter that may repeat (`?tag=a&tag=b`), always handed on as an array, and at most
 * `max` times: 400 beyond (each value becomes a bound parameter, and D1 binds at most 100 a
 * statement).
 */
export const Repeatable = <T extends z.ZodTypeAny>(item: T, max: number) =>
  z.preprocess(
    (value) => (value === undefined || Array.isArray(value) ? value : [value]),
    z.array(item).max(max, `At most ${max} values.`).optional(),
  );

/** `?tag=` on a list: repeatable, every tag must match. */
export const TagFilter = Repeatable(Tag, MAX_TAGS).openapi({
  description: `Repeatable (at most ${MAX_TAGS}): every tag must match`,
});

/** A calendar date, `YYYY-MM-DD` (a real one: no February 30th). */
export const IsoDate = z.iso.date().openapi({ example: '2026-11-25' });

/**
 * An instant with `Z` or an offset, or a date (its midnight UTC), handed on as UTC ISO text: a
 * time range's end in a query, a task's due date.
 */
export const InstantOrDate = z
  .union([z.iso.datetime({ offset: true }), IsoDate])
  .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value).toISOString())
  .openapi({ description: 'ISO 8601 instant with `Z` or an offset, or a date (midnight UTC)', example: '2026-11-25' });

/** A search string (`?q=`); an empty one searches nothing, as if absent. */
export const SearchText = z
  .string()
  .trim()
  .max(200)
  .refine((value) => !value || hasSearchWord(value), 'No letter or digit to search for.')
  .transform((value) => value || undefined)
  .optional();

/**
 * Money and hours: a JSON number ≥ 0 with at most 2 decimals, up to `max`, stored as INTEGER
 * hundredths. Float noise is tolerated and removed (0.1 + 0.2 → 0.3); a third decimal is refused.
 */
export const Hundredths = (max: number) =>
  z
    .number()
    .min(0)
    .max(max)
    .refine((value) => Math.abs(Math.round(value * 100) - value * 100) <= 1e-9, 'At most 2 decimals.')
    .transform((value) => Math.round(value * 100) / 100)
    .openapi({ description: `≥ 0, at most 2 decimals, ≤ ${max}`, example: 12345.67 });

/**
 * A column the product sets itself, in a write's body: documented as readOnly and, when sent,
 * refused with a 400 that says how it is set (rather than as an unknown field). Typed `never`, as
 * no value passes: a body's inferred type then fits the table's insert and update types.
 */
export const Derived = (how: string) =>
  (z.unknown().refine(() => false, `Read-only: ${how}`) as unknown as z.ZodType<never>)
    .optional()
    .openapi({ readOnly: true, description: `Read-only: ${how}` });

/** The columns every row gets from the server, refused in any body. */
export const SERVER_SET = {
  id: Derived('made by the server (a UUID v7).'),
  organization_id: Derived("the path's organization."),
  created_at: Derived('the time of creation.'),
  updated_at: Derived('the time of the last change.'),
};

/** `created_by`, where a table keeps it. */
export const CreatedBy = Derived("the acting user (an API key's creator) when the row is created.");

/**
 * An absolute http(s) URL (only https with `{ https: true }`) on a domain name, for every URL the
 * API stores to show or call. Stored as the URL parser normalises it (`https:example.com` →
 * `https://example.com/`), so what is stored is what a browser or `fetch` will use. Refused: any
 * other scheme (`javascript:`, `data:` …), IP literals, single-label hosts, and a user name or
 * password (`https://trusted.example@evil.example/` reads as one host and is another).
 */
export const WebUrl = ({ https = false } = {}) => {
  const message = `Must be an ${https ? 'https' : 'http(s)'}:// URL with a domain name (no IP address, no user name or password).`;
  return z
    .url({ normalize: true, abort: true, error: message })
    .refine(
      (href) => {
        const url = new URL(href);
        return (
          (url.protocol === 'https:' || (!https && url.protocol === 'http:')) &&
          z.regexes.domain.test(url.hostname) &&
          !url.username &&
          !url.password
        );
      },
      { message, abort: true },
    )
    .max(2048)
    .openapi({ example: 'https://example.com/page' });
};

const DisplayUrl = WebUrl();

/** `value` if it is a WebUrl (normalised), else null: for URLs that come from Clerk rather than a request body. */
export function webUrlOrNull(value: unknown): string | null {
  const parsed = DisplayUrl.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/**
 * A URL this Worker will call (a webhook): an https WebUrl that `outboundUrlRefusal` accepts. Its
 * addresses are checked before each call (`checkOutboundHost`), since DNS can change after this.
 */
export const OutboundUrl = WebUrl({ https: true })
  .pipe(
    z.string().superRefine((url, ctx) => {
      const refusal = outboundUrlRefusal(url);
      if (refusal) ctx.addIssue({ code: 'custom', message: refusal });
    }),
  )
  .openapi({
    description:
      'https, a public domain name: no IP address, private name (.internal, .local, .localhost …) or wildcard-DNS service (nip.io …)',
  });

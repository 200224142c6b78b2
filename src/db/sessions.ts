// D1 read replication through the Sessions API. Every unit of work reaches D1 through one
// D1Sessions — a request, a Durable Object's operation, a queue batch, a cron run — which opens
// at most one session per database it touches, counts its round trips, records which kind of
// instance may serve each, and keeps the newest bookmark of every database, which a request
// hands to its client (Strive-Bookmark) so that its next request reads its own writes.
//
// Instances: a write always runs on the primary. A read in a session that started
// `first-unconstrained` runs on any instance (the nearest replica); in one that started from a
// bookmark, on any instance at least that new. A database a unit of work reads on the primary
// (all of them in `primary` mode, one after `latest`) gets a `first-primary` session per
// statement: each one runs on the primary, and its bookmark is kept all the same.
import { observeRoundTrips } from './round-trips';

/** Which kind of database instance may serve a round trip. */
type Instance = 'primary' | 'any';
/** `beside`: made by a Durable Object placed at the data, for the unit of work that called it. */
type RoundTrip = { database: string; instance: Instance; beside?: true };

/**
 * - `nearest`: reads from the nearest replica, or from any instance at least as new as the
 *   client's bookmark for that database; writes on the primary. Requests.
 * - `primary`: every query on the primary. Durable Objects, queue consumers, cron, webhooks, and
 *   a request sent with `Strive-Consistency: primary`.
 * - `off` (`D1_SESSIONS=false`): no Sessions API, every query on the primary and no bookmarks.
 */
type ReadMode = 'nearest' | 'primary' | 'off';

/** Database name ('catalog', 'shard_0', …) → bookmark. */
export type Bookmarks = ReadonlyMap<string, string>;

/** What a Durable Object's operation hands back to the request that called it. */
export type D1Report = { trips: RoundTrip[]; bookmarks: Record<string, string> };

/** A D1 bookmark: D1 issues them as four groups of hex digits, growing with every commit. */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;
const DATABASE = /^(catalog|shard_(0|[1-9][0-9]{0,3}))$/;
const MAX_PARTS = 64;

/** The name bookmarks and the round-trip record use for a binding: CATALOG → catalog, SHARD_0 → shard_0. */
const databaseName = (binding: string) => binding.toLowerCase();

/** Bookmarks of one width compare as strings (the runtime's session keeps the greater one too). */
const isNewer = (candidate: string, than: string | undefined) => than === undefined || candidate > than;

/** `catalog:<bookmark>|shard_0:<bookmark>`: the form of Strive-Bookmark, its cookie and a public-cache generation. */
export function formatBookmarks(bookmarks: Bookmarks): string {
  return [...bookmarks].map(([database, bookmark]) => `${database}:${bookmark}`).join('|');
}

/** The parts of a Strive-Bookmark value; null when it is not one (D1 itself would take any string). */
export function parseBookmarks(value: string): Map<string, string> | null {
  const parts = value.split('|');
  if (parts.length > MAX_PARTS) return null;
  const bookmarks = new Map<string, string>();
  for (const part of parts) {
    const colon = part.indexOf(':');
    const database = part.slice(0, colon);
    const bookmark = part.slice(colon + 1);
    if (colon < 0 || !DATABASE.test(database) || !BOOKMARK.test(bookmark) || bookmarks.has(database)) return null;
    bookmarks.set(database, bookmark);
  }
  return bookmarks;
}

/** A statement that may write: D1 sends it to the primary whatever the session (only the record needs this). */
const writes = (sql: string) => !/^\s*select\b/i.test(sql);

export class D1Sessions {
  readonly trips: RoundTrip[] = [];
  /** Calls to Durable Objects that did D1 work for this unit of work (each one hop to the object). */
  private objectCalls = 0;
  /** Open sessions, one per database. */
  private readonly sessions = new Map<string, D1DatabaseSession>();
  /** Where a database's session starts when it opens: the client's bookmark, or one `atLeast` set. */
  private readonly starts = new Map<string, string>();
  /** Databases read on the primary from now on (`latest`). */
  private readonly onPrimary = new Set<string>();
  /** The newest bookmark seen of each database: the client's, its sessions', its Durable Objects'. */
  private readonly newest = new Map<string, string>();
  private readonly facades = new Map<string, D1Database>();

  /** `client`: the bookmarks the client sent, where the sessions start (without sessions, ignored). */
  private constructor(
    readonly mode: ReadMode,
    client: Bookmarks,
  ) {
    if (mode === 'off') return;
    for (const [database, bookmark] of client) {
      this.starts.set(database, bookmark);
      this.newest.set(database, bookmark);
    }
  }

  /** A unit of work reading `mode`, or with no sessions at all where D1_SESSIONS is "false". */
  static open(
    env: { D1_SESSIONS?: string },
    mode: Exclude<ReadMode, 'off'>,
    client: Bookmarks = new Map(),
  ): D1Sessions {
    return new D1Sessions(env.D1_SESSIONS === 'false' ? 'off' : mode, client);
  }

  /** A Durable Object's, a consumer's, a cron run's: every query on the primary. */
  static primary(env: { D1_SESSIONS?: string }): D1Sessions {
    return D1Sessions.open(env, 'primary');
  }

  /** Round trips so far (what x-d1-round-trips reports). */
  get count(): number {
    return this.trips.length;
  }

  /**
   * Trips that cross the distance between the Worker (near the client) and the data (what
   * x-d1-far-hops reports): its own trips to a primary, and each call to an object placed at the
   * data. An object's trips to D1 are local to it; a replica's read is near the Worker.
   */
  get farHops(): number {
    return this.trips.filter((trip) => !trip.beside && trip.instance === 'primary').length + this.objectCalls;
  }

  /**
   * `binding` as this unit of work reaches it: prepare and batch (all drizzle's D1 driver uses),
   * each statement sent through the database's current session.
   */
  database(binding: string, db: D1Database): D1Database {
    const name = databaseName(binding);
    let facade = this.facades.get(name);
    if (!facade) {
      const session = () => this.session(name, db);
      facade = {
        prepare: (query: string) => session().prepare(query),
        batch: (statements: D1PreparedStatement[]) => session().batch(statements),
      } as unknown as D1Database; // exec, dump, withSession: not for the Worker's code paths
      this.facades.set(name, facade);
    }
    return facade;
  }

  /**
   * The database's queries from now on run on the primary: for a read that decides a write (the
   * request's reads before it, and of other databases, stay on the nearest replica).
   */
  latest(binding: string): void {
    this.onPrimary.add(databaseName(binding));
  }

  /**
   * The database's next queries see at least `bookmark` (a public cache generation's, say): its
   * session starts again from it unless it is already that new.
   */
  atLeast(name: string, bookmark: string): void {
    if (this.mode !== 'nearest' || this.onPrimary.has(name) || !isNewer(bookmark, this.position(name))) return;
    this.sessions.delete(name);
    this.starts.set(name, bookmark);
  }

  /** The newest bookmark seen of a database, if any. */
  bookmark(name: string): string | undefined {
    return this.newest.get(name);
  }

  /** Every database's newest bookmark: what the response hands the client. */
  bookmarks(): Bookmarks {
    return this.newest;
  }

  /** For a Durable Object's answer: its round trips and bookmarks, merged by the caller's `absorb`. */
  report(): D1Report {
    return { trips: this.trips, bookmarks: Object.fromEntries(this.newest) };
  }

  /** Another unit of work's trips and bookmarks, made where this one stands (a move's steps, each on the primary). */
  join(other: D1Sessions): void {
    this.trips.push(...other.trips);
    for (const [database, bookmark] of other.newest) this.see(database, bookmark);
  }

  /** A placed object's D1 work for this unit of work: one far hop to the object, its trips local to it. */
  absorb(report: D1Report): void {
    this.objectCalls += 1;
    for (const trip of report.trips) this.trips.push({ ...trip, beside: true });
    for (const [database, bookmark] of Object.entries(report.bookmarks)) this.see(database, bookmark);
  }

  /** How new the database's session is, or will be when it opens. */
  private position(name: string): string | undefined {
    return this.sessions.get(name)?.getBookmark() ?? this.starts.get(name);
  }

  private session(name: string, db: D1Database): D1Database | D1DatabaseSession {
    if (this.mode === 'off') return this.observe(name, db, () => 'primary');
    // A fresh first-primary session per statement: each one on the primary, each bookmark kept.
    if (this.mode === 'primary' || this.onPrimary.has(name))
      return this.observe(name, db.withSession('first-primary'), () => 'primary');
    let session = this.sessions.get(name);
    if (!session) {
      session = this.observe(name, db.withSession(this.starts.get(name) ?? 'first-unconstrained'), (sql) =>
        sql.some(writes) ? 'primary' : 'any',
      );
      this.sessions.set(name, session);
    }
    return session;
  }

  private observe<D extends D1Database | D1DatabaseSession>(
    name: string,
    db: D,
    instance: (sql: string[]) => Instance,
  ): D {
    return observeRoundTrips(db, (sql, call) => {
      this.trips.push({ database: name, instance: instance(sql) });
      return call().finally(() => {
        const bookmark = 'getBookmark' in db ? db.getBookmark() : null;
        if (bookmark) this.see(name, bookmark);
      });
    });
  }

  private see(name: string, bookmark: string): void {
    if (isNewer(bookmark, this.newest.get(name))) this.newest.set(name, bookmark);
  }
}

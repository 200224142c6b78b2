// The latency model of `npm run bench:global`, and nothing else: a D1 binding as Miniflare's
// `wrappedBindings` gives it to a worker that stands for one region. Every round trip first waits
// the round-trip time between that region and the database instance that would serve it, then
// runs on local D1:
//
// - a write, a query of a `first-primary` session's first trip, and every query made without a
//   session (the plain binding: D1 before the Sessions API) → the primary's region;
// - any other read → the nearest replica (one in every region: `same`), unless the session needs a
//   state the replicas may not have yet: a commit younger than the replica lag (the session's
//   own write, or a bookmark naming one) → the primary.
//
// It counts and prices trips with approximate public RTTs; it claims nothing about Cloudflare's
// network. Inner bindings: the real local databases, NAME (the one to wrap), REGION, MODEL
// ({ primary, primaries, rtt, lag }: the primaries' region, per binding where it is not `primary`;
// rtt[REGION][to] in ms, the replica lag in ms).

/** Database → when this isolate last saw a write commit on it. */
const lastWrite = new Map();
/** Bookmark → the commit time of the state it names, as far as this isolate saw it made. */
const committedAt = new Map();

const writes = (sql) => !/^\s*select\b/i.test(sql);
const wait = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** Where one session's (or the plain binding's) trips go. */
class Route {
  constructor(model, name, start) {
    this.model = model;
    this.name = name;
    this.start = start; // 'primary' (no session), 'first-primary', 'first-unconstrained' or a bookmark
    this.used = false;
    /** The commit time the session must see: a replica serves it once that is older than the lag. */
    this.needs = start === 'primary' || start.startsWith('first-') ? 0 : (committedAt.get(start) ?? 0);
  }

  async trip(sql, call, bookmarkOf) {
    const { rtt, lag, region } = this.model;
    const home = this.model.primaries?.[this.name] ?? this.model.primary;
    const onPrimary =
      this.start === 'primary' ||
      sql.some(writes) ||
      (this.start === 'first-primary' && !this.used) ||
      this.needs > Date.now() - lag;
    this.used = true;
    await wait(rtt[region][onPrimary ? home : region]);
    const result = await call();
    if (sql.some(writes)) lastWrite.set(this.name, Date.now());
    // The primary answers with its newest commit; a replica with what the session needed at most.
    if (onPrimary) this.needs = Math.max(this.needs, lastWrite.get(this.name) ?? 0);
    const bookmark = bookmarkOf?.();
    if (bookmark) committedAt.set(bookmark, this.needs);
    return result;
  }
}

function statement(inner, sql, route, bookmarkOf) {
  const run =
    (method) =>
    (...args) =>
      route.trip([sql], () => inner[method](...args), bookmarkOf);
  return {
    inner,
    sql,
    bind: (...values) => statement(inner.bind(...values), sql, route, bookmarkOf),
    first: run('first'),
    all: run('all'),
    run: run('run'),
    raw: run('raw'),
  };
}

/** A session, or the plain binding (route 'primary', no bookmarks). */
function database(inner, route, bookmarkOf) {
  return {
    prepare: (sql) => statement(inner.prepare(sql), sql, route, bookmarkOf),
    batch: (statements) =>
      route.trip(
        statements.map((s) => s.sql),
        () => inner.batch(statements.map((s) => s.inner)),
        bookmarkOf,
      ),
  };
}

export default function modelledD1(env) {
  const model = { ...env.MODEL, region: env.REGION };
  const db = env[env.NAME];
  return {
    ...database(db, new Route(model, env.NAME, 'primary')),
    exec: (query) => new Route(model, env.NAME, 'primary').trip([query], () => db.exec(query)),
    withSession(start = 'first-unconstrained') {
      const session = db.withSession(start);
      return {
        ...database(session, new Route(model, env.NAME, start), () => session.getBookmark()),
        getBookmark: () => session.getBookmark(),
      };
    },
  };
}

// Observes D1 round trips: the latency budgets (docs/architecture.md) are stated in them. A statement's
// first/all/run/raw is one trip; a batch() is one trip however many statements it holds. The
// wrapped database (a binding or a session) is otherwise the real one.

/** Runs one round trip: `sql` is what it sends (one statement, or a batch's), `call` sends it. */
type TripObserver = <T>(sql: string[], call: () => Promise<T>) => Promise<T>;

const EXECUTING = new Set(['first', 'all', 'run', 'raw']);

/**
 * Statement proxies → the runtime's statement and its SQL. Shared by every wrapped database: a
 * batch may be sent through another session than the one its statements were prepared on.
 */
const statements = new WeakMap<object, { original: D1PreparedStatement; sql: string }>();

export function observeRoundTrips<D extends D1Database | D1DatabaseSession>(db: D, trip: TripObserver): D {
  const wrapStatement = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, key) {
        if (key === 'bind') return (...values: unknown[]) => wrapStatement(target.bind(...values), sql);
        const value = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        if (typeof key === 'string' && EXECUTING.has(key)) {
          return (...args: unknown[]) => trip([sql], () => value.apply(target, args));
        }
        return value.bind(target);
      },
    });
    statements.set(proxy, { original: statement, sql });
    return proxy;
  };

  return new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') return (query: string) => wrapStatement(target.prepare(query), query);
      if (key === 'batch') {
        return (batch: D1PreparedStatement[]) => {
          const known = batch.map((s) => statements.get(s));
          // The runtime's batch() only accepts its own statement objects, not our proxies.
          return trip(
            known.map((s) => s?.sql ?? ''),
            () => target.batch(batch.map((s, n) => known[n]?.original ?? s)),
          );
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

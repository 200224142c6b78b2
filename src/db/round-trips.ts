// Counts D1 round trips per request: the latency budget of ARCHITECTURE.md is stated in them.
// A statement's first/all/run/raw is one trip; a batch() is one trip however many statements
// it holds. The wrapped binding is otherwise the real one.
export type RoundTripCounter = { count: number };

const EXECUTING = new Set(['first', 'all', 'run', 'raw']);

export function countRoundTrips(db: D1Database, counter: RoundTripCounter): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();

  const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, key) {
        if (key === 'bind') return (...values: unknown[]) => wrapStatement(target.bind(...values));
        const value = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        if (typeof key === 'string' && EXECUTING.has(key)) {
          return (...args: unknown[]) => {
            counter.count++;
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
    originals.set(proxy, statement);
    return proxy;
  };

  return new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') return (query: string) => wrapStatement(target.prepare(query));
      if (key === 'batch') {
        return (statements: D1PreparedStatement[]) => {
          counter.count++;
          // The runtime's batch() only accepts its own statement objects, not our proxies.
          return target.batch(statements.map((s) => originals.get(s) ?? s));
        };
      }
      if (key === 'exec') {
        return (query: string) => {
          counter.count++;
          return target.exec(query);
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

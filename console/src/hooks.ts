// The few state helpers every page uses: a tiny observable store, data that loads (with its
// loading and error states), and actions whose refusal is shown to the person.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem, type Page } from '../../client';

export type Store<T> = { get(): T; set(value: T): void; subscribe(listener: () => void): () => void };

export function store<T>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set(next) {
      value = next;
      listeners.forEach((listener) => listener());
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore<T>(source: Store<T>): T {
  const [, rerender] = useState(0);
  useEffect(() => source.subscribe(() => rerender((n) => n + 1)), [source]);
  return source.get();
}

/** What a person is told about a failure: the problem's `detail` when the API refused. */
export function describe(error: unknown): string {
  if (error instanceof ApiProblem) return error.problem.detail;
  if (error instanceof TypeError) return 'The server could not be reached. Check your connection and try again.';
  return error instanceof Error ? error.message : String(error);
}

export type Loaded<T> = {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Replaces the data in place (after a change the page made itself). */
  set: (update: (current: T | undefined) => T | undefined) => void;
};

/** Loads `load()` now and whenever `deps` change; a later load wins over an earlier one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const run = ++latest.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => run === latest.current && setState({ data, error: null, loading: false }),
      (error) => run === latest.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }, [...deps, generation]);
  const set = useCallback(
    (update: (current: T | undefined) => T | undefined) => setState((s) => ({ ...s, data: update(s.data) })),
    [],
  );
  return { ...state, reload: () => setGeneration((n) => n + 1), set };
}

export type Action<A extends unknown[]> = {
  run: (...args: A) => Promise<boolean>;
  pending: boolean;
  error: string | null;
  clear: () => void;
};

/** A change the person asked for: pending while it runs, its refusal kept to be shown. */
export function useAction<A extends unknown[]>(perform: (...args: A) => Promise<unknown>): Action<A> {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (...args: A) => {
    setPending(true);
    setError(null);
    try {
      await perform(...args);
      return true;
    } catch (failure) {
      setError(describe(failure));
      return false;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, error, clear: () => setError(null) };
}

/** A cursor list: its first page loads like any data, `more` appends the next one. */
export function usePaged<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, deps: unknown[]) {
  const [later, setLater] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const first = useLoad(async () => {
    const page = await fetchPage(undefined);
    setLater([]);
    setCursor(page.next_cursor);
    return page.data;
  }, deps);
  const more = useAction(async () => {
    const page = await fetchPage(cursor ?? undefined);
    setLater((items) => [...items, ...page.data]);
    setCursor(page.next_cursor);
  });
  return { first, later, hasMore: cursor !== null, more };
}

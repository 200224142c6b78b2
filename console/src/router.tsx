// Pages are paths under /app (the Worker answers each with index.html): /app/{org}/{page}/{id}.
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { store } from './hooks';

export const BASE = '/app';
export const path = store(location.pathname);

export function navigate(to: string, { replace = false } = {}) {
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  path.set(location.pathname);
  window.scrollTo(0, 0);
}
addEventListener('popstate', () => path.set(location.pathname));

export type Route = { org?: string; page?: string; id?: string };

export function parse(pathname: string): Route {
  const [org, page, id] = pathname.slice(BASE.length).split('/').filter(Boolean).map(decodeURIComponent);
  return { org, page, id };
}

export const href = (org: string, page?: string, id?: string) =>
  [BASE, org, page, id]
    .filter(Boolean)
    .map((part, n) => (n === 0 ? part : encodeURIComponent(part!)))
    .join('/');

/** A link that changes the page without reloading it (a modified click still opens a tab). */
export function Link({
  to,
  children,
  ...rest
}: {
  to: string;
  children: ComponentChildren;
  class?: string;
  'aria-current'?: 'page';
}) {
  return (
    <a
      href={to}
      {...rest}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

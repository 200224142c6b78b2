// Shared pieces of every page: its states (loading, empty, error), form fields, a usage bar,
// avatars, a copy button.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { describe, type Loaded, type usePaged } from './hooks';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="state" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

export function ErrorNote({ error, retry }: { error: unknown; retry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <span>{typeof error === 'string' ? error : describe(error)}</span>
      {retry && (
        <button type="button" class="link" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

/** Loading, error or empty, else the content: the three states every list has. */
export function States<T>({
  loaded,
  empty,
  children,
}: {
  loaded: Loaded<T>;
  empty?: (data: T) => ComponentChildren | false;
  children: (data: T) => ComponentChildren;
}) {
  if (loaded.data === undefined) {
    return loaded.error ? <ErrorNote error={loaded.error} retry={loaded.reload} /> : <Loading />;
  }
  const none = empty?.(loaded.data);
  return (
    <>
      {loaded.error ? <ErrorNote error={loaded.error} retry={loaded.reload} /> : null}
      {none ? <Empty>{none}</Empty> : children(loaded.data)}
    </>
  );
}

export function Page({
  title,
  actions,
  children,
}: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{title}</h1>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
      {hint && <small>{hint}</small>}
    </label>
  );
}

/** A <select> of `options` (value → label). */
export function Select<V extends string>({
  value,
  options,
  onChange,
  label,
  required,
  disabled,
}: {
  value: V;
  options: readonly (V | [V, string])[];
  onChange: (value: V) => void;
  label?: string;
  required?: boolean;
  disabled?: boolean;
}) {
  return (
    <select
      value={value}
      aria-label={label}
      required={required}
      disabled={disabled}
      onChange={(e) => onChange(e.currentTarget.value as V)}
    >
      {options.map((option) => {
        const [key, text] = Array.isArray(option) ? option : [option, humanize(option)];
        return (
          <option key={key} value={key}>
            {text}
          </option>
        );
      })}
    </select>
  );
}

export const humanize = (value: string) => (value.charAt(0).toUpperCase() + value.slice(1)).replace(/_/g, ' ');

export function initials(name: string | null | undefined) {
  const words = (name ?? '?')
    .replace(/@.*/, '')
    .split(/[\s._-]+/)
    .filter(Boolean);
  return ((words[0]?.[0] ?? '?') + (words[1]?.[0] ?? '')).toUpperCase();
}

export function Avatar({ name, title }: { name: string | null; title?: string }) {
  return (
    <span class="avatar" title={title ?? name ?? ''} aria-label={title ?? name ?? 'someone'}>
      {initials(name)}
    </span>
  );
}

/** `used` of `limit` as a bar (no limit: an unlimited note). */
export function UsageBar({
  label,
  used,
  limit,
  format = String,
}: {
  label: string;
  used: number;
  limit: number | null;
  format?: (n: number) => string;
}) {
  const share = limit ? Math.min(1, used / limit) : 0;
  return (
    <div class="usage">
      <div class="usage-label">
        <span>{label}</span>
        <span>
          {format(used)} of {limit === null ? 'unlimited' : format(limit)}
        </span>
      </div>
      <div
        class={`bar${share >= 0.9 ? ' full' : ''}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={limit ?? undefined}
        aria-valuenow={used}
      >
        <span style={{ width: `${Math.round(share * 100)}%` }} />
      </div>
    </div>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={async () => {
        await navigator.clipboard?.writeText(text).catch(() => undefined);
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

export const formatDate = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—';
export const formatBytes = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KB`
      : n < 1024 ** 3
        ? `${(n / 1024 ** 2).toFixed(1)} MB`
        : `${(n / 1024 ** 3).toFixed(1)} GB`;

/** The next page of a cursor list, while there is one. */
export function More({
  paged,
  label,
}: {
  paged: Pick<ReturnType<typeof usePaged>, 'hasMore' | 'more'>;
  label: string;
}) {
  if (!paged.hasMore) return null;
  return (
    <p>
      <button type="button" onClick={() => paged.more.run()} disabled={paged.more.pending}>
        {label}
      </button>
      <ErrorNote error={paged.more.error} />
    </p>
  );
}

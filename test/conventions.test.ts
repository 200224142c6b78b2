/// <reference types="vite/client" />
// The house rules of CONTRIBUTING.md that a reading of the source can check. Each failure names
// the file and the rule; an exception goes on the rule's allowlist with its reason, never silently.
import { describe, expect, it } from 'vitest';

// Keys are paths relative to this file ('../src/…', './helpers.ts'): named from the repository root.
const files = import.meta.glob(['../src/**/*.ts', './**/*.{ts,mjs}', '../scripts/**/*.{ts,mjs}'], {
  query: '?raw',
  import: 'default',
  eager: true,
});
const checked: Record<string, string> = Object.fromEntries(
  Object.entries(files).map(([path, text]) => [path.replace(/^\.\.\//, '').replace(/^\.\//, 'test/'), text as string]),
);
const src = Object.fromEntries(Object.entries(checked).filter(([path]) => path.startsWith('src/')));

/**
 * Comments that start a line blanked, line breaks kept so line numbers hold (a `/*` inside a
 * string, as in '/v1/*', is no comment).
 */
function code(text: string): string {
  return text.replace(/^\s*\/\*[\s\S]*?\*\//gm, (block) => block.replace(/[^\n]/g, ' ')).replace(/^\s*\/\/.*$/gm, '');
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** The index just past the bracket that closes the one at `open`. */
function closing(text: string, open: number): number {
  const pairs: Record<string, string> = { '(': ')', '{': '}', '[': ']', '<': '>' };
  const stack: string[] = [];
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '=' && text[i + 1] === '>')
      i++; // an arrow is not a closing angle bracket
    else if (pairs[ch]) stack.push(pairs[ch]);
    else if (ch === stack.at(-1)) {
      stack.pop();
      if (stack.length === 0) return i + 1;
    }
  }
  throw new Error(`unbalanced bracket at ${open}`);
}

describe('a: every service action starts with its permission check', () => {
  // Exported async functions of a service taking a TenantContext that are not actions a route
  // calls, or that check in another way. `file#function` → why.
  const notActions: Record<string, string> = {
    'src/modules/tasks/service.ts#listProjectTasks': 'delegates to listTasks, which checks tasks:read first',
    'src/modules/tasks/service.ts#assertProjectVisible': 'a helper other task actions call after their own check',
    'src/modules/members/service.ts#removeMember':
      'anyone may leave: members:manage is required only to remove someone else',
    'src/modules/members/service.ts#assertMember': 'a helper actions call to validate a user field after their check',
    'src/modules/conversations/service.ts#appendTurn':
      "the chat object's write of a turn, on a conversation it already checked",
  };
  // What counts as the check: requirePermission(ctx, …) as the first statement.
  const check = /^requirePermission\(ctx,/;

  const services = Object.entries(src).filter(([path]) => /^src\/modules\/[^/]+\/service\.ts$/.test(path));
  it('finds the services', () => expect(services.length).toBeGreaterThan(10));

  for (const [path, text] of services) {
    it(path, () => {
      const body = code(text);
      const failures: string[] = [];
      for (const match of body.matchAll(/export async function (\w+)\s*(?:<[^(]*>)?\(/g)) {
        const name = match[1]!;
        const paramsEnd = closing(body, match.index + match[0].length - 1);
        if (!/\bTenantContext\b/.test(body.slice(match.index, paramsEnd))) continue;
        // The body is the first `{` outside the return type's angle brackets.
        let open = paramsEnd;
        while (body[open] !== '{') open = body[open] === '<' ? closing(body, open) : open + 1;
        const first = body.slice(open + 1).trimStart();
        const key = `${path}#${name}`;
        if (check.test(first)) {
          if (notActions[key]) failures.push(`${key} checks its permission: take it off the allowlist`);
        } else if (!notActions[key]) {
          failures.push(`${path}:${lineOf(body, match.index)} ${name} does not start with requirePermission(ctx, …)`);
        }
      }
      expect(failures, 'rule a: a service action starts with its permission check').toEqual([]);
    });
  }

  it('names no function that is gone', () => {
    const gone = Object.keys(notActions).filter((key) => {
      const [path, name] = key.split('#');
      return !new RegExp(`export async function ${name}\\b`).test(src[path!] ?? '');
    });
    expect(gone, 'rule a: allowlist entries without their function').toEqual([]);
  });
});

describe('b: tenant tables are written only through ctx.store and the audited helpers', () => {
  // The tables of src/db/tenant.ts: their export names and their SQL names.
  const tenantSource = src['src/db/tenant.ts']!;
  const tables = [...tenantSource.matchAll(/export const (\w+) = sqliteTable\(\s*'(\w+)'/g)].map((m) => ({
    name: m[1]!,
    sql: m[2]!,
  }));
  const byName = new Set(tables.map((t) => t.name));
  const bySql = new Set(tables.map((t) => t.sql));
  // Places that write tenant tables with their own SQL. file → why.
  const allowed: Record<string, string> = {
    'src/db/tenant-store.ts': 'the store itself: every statement it builds carries the organization filter',
    'src/modules/usage/consumer.ts': "the queue consumer: one statement for a batch of many organizations' events",
    'src/modules/appointments/reminders.ts': 'the cron: claims reminders across every organization of a shard',
    'src/modules/outbound-webhooks/delivery.ts':
      "the delivery queue's bookkeeping (outbox drained, deliveries claimed and recorded, failing endpoints paused): " +
      'a system process with no TenantContext, across the organizations of a shard',
    'src/modules/platform/moves.ts':
      "a move between shards: every table's rows of one organization copied, checked and deleted page by page, " +
      'and its fence; a platform process with no TenantContext',
  };

  it('finds the tenant tables', () => expect(tables.length).toBeGreaterThan(10));

  it('every file', () => {
    const failures: string[] = [];
    for (const [path, text] of Object.entries(src)) {
      if (allowed[path]) continue;
      const body = code(text);
      // Drizzle: <receiver>.insert|update|delete(<tenant table>): the receiver must be the store.
      for (const m of body.matchAll(/\.\s*(insert|insertWhere|update|delete)\(\s*(?:tenant\.)?(\w+)\b/g)) {
        if (!byName.has(m[2]!)) continue;
        if (/\bstore(?:\.latest\(\))?\s*$/.test(body.slice(Math.max(0, m.index - 60), m.index))) continue;
        failures.push(`${path}:${lineOf(body, m.index)} .${m[1]}(${m[2]}) outside ctx.store`);
      }
      // Raw SQL: INSERT [OR …] INTO / UPDATE / DELETE FROM a tenant table, by name or ${table}.
      const raw = /\b(INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:\$\{(?:tenant\.)?(\w+)\}|["`]?(\w+))/gi;
      for (const m of body.matchAll(raw)) {
        const table = m[2] ?? m[3]!;
        if (m[2] ? !byName.has(table) : !bySql.has(table)) continue;
        failures.push(`${path}:${lineOf(body, m.index)} raw ${m[1]!.toUpperCase()} ${table} outside ctx.store`);
      }
    }
    expect(failures, 'rule b: tenant tables are written through ctx.store / modules/activity/audit.ts').toEqual([]);
  });

  it('names no file that is gone', () => {
    expect(Object.keys(allowed).filter((path) => !src[path])).toEqual([]);
  });
});

describe('c: lib/, db/ and auth/ never import a feature module', () => {
  // `file -> imported module` → why. Empty: keep it so.
  const allowed: Record<string, string> = {};

  /** `spec` as seen from `path`, relative to the repository root. */
  function resolve(path: string, spec: string): string {
    const parts = path.split('/').slice(0, -1);
    for (const part of spec.split('/')) {
      if (part === '..') parts.pop();
      else if (part !== '.') parts.push(part);
    }
    return parts.join('/');
  }

  it('every file', () => {
    const failures: string[] = [];
    const seen = new Set<string>();
    for (const [path, text] of Object.entries(src)) {
      if (!/^src\/(lib|db|auth)\//.test(path)) continue;
      const body = code(text);
      for (const m of body.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.[^'"]*)['"]/g)) {
        const target = resolve(path, m[1]!);
        if (!target.startsWith('src/modules/')) continue;
        const key = `${path} -> ${target}`;
        seen.add(key);
        if (!allowed[key]) failures.push(`${path}:${lineOf(body, m.index)} imports ${target}`);
      }
    }
    expect(failures, 'rule c: src/lib, src/db and src/auth never import src/modules/*').toEqual([]);
    expect(
      Object.keys(allowed).filter((key) => !seen.has(key)),
      'rule c: allowlist entries no longer needed',
    ).toEqual([]);
  });
});

describe('d: no line runs past 140 characters', () => {
  it('finds src/, test/ and scripts/', () => {
    for (const dir of ['src/', 'test/', 'scripts/'])
      expect(Object.keys(checked).some((p) => p.startsWith(dir))).toBe(true);
  });

  it('every file', () => {
    const failures = Object.entries(checked).flatMap(([path, text]) =>
      text
        .split('\n')
        .flatMap((line, i) => (line.length > 140 ? [`${path}:${i + 1} is ${line.length} characters`] : [])),
    );
    expect(failures, 'rule d: lines of src/, test/ and scripts/ stay within 140 characters').toEqual([]);
  });
});

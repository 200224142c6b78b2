// Customers: search (name, email, company), filters by status, source and tags (every tag must
// match), pages by cursor, a new customer, and a customer's status, tags and notes edited in place.
import { useEffect, useState } from 'preact/hooks';
import { api, may, unwrap, type Schemas } from '../api';
import { useAction, usePaged } from '../hooks';
import type { OrgProps } from '../main';
import { ErrorNote, Field, humanize, More, Page, Select, States } from '../ui';

type Customer = Schemas['Customer'];
type Status = Customer['status'];
type Source = NonNullable<Customer['source']>;
const STATUSES: Status[] = ['lead', 'prospect', 'active', 'inactive', 'churned'];
const SOURCES: Source[] = ['website', 'referral', 'social', 'email', 'phone', 'event', 'advertising', 'other'];

const parseTags = (text: string) => [
  ...new Set(
    text
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  ),
];

export function Customers({ membership }: OrgProps) {
  const org = membership.organization.slug;
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [status, setStatus] = useState<Status | ''>('');
  const [source, setSource] = useState<Source | ''>('');
  const [tags, setTags] = useState<string[]>([]);
  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);

  const list = usePaged(
    (cursor) =>
      api
        .GET('/v1/orgs/{org}/customers', {
          params: {
            path: { org },
            query: {
              limit: 25,
              cursor,
              ...(q ? { q } : {}),
              ...(status ? { status } : {}),
              ...(source ? { source } : {}),
              ...(tags.length ? { tag: tags } : {}),
            },
          },
        })
        .then(unwrap),
    [org, q, status, source, tags.join()],
  );
  const addTag = (tag: string) => setTags((t) => (t.includes(tag) ? t : [...t, tag]));
  const filtered = Boolean(q || status || source || tags.length);

  return (
    <Page title="Customers">
      <div class="row" role="search">
        <Field label="Search">
          <input
            type="search"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
            placeholder="Name, email or company"
          />
        </Field>
        <Field label="Status">
          <Select value={status} options={[['', 'Any'], ...STATUSES]} onChange={setStatus} />
        </Field>
        <Field label="Source">
          <Select value={source} options={[['', 'Any'], ...SOURCES]} onChange={setSource} />
        </Field>
        <Field label="Tag">
          <input
            placeholder="Add a tag filter"
            onKeyDown={(e) => {
              if (e.key !== 'Enter') return;
              e.preventDefault();
              parseTags(e.currentTarget.value).forEach(addTag);
              e.currentTarget.value = '';
            }}
          />
        </Field>
      </div>
      {tags.length > 0 && (
        <p class="row small">
          Tagged:
          {tags.map((tag) => (
            <button
              key={tag}
              type="button"
              class="tag"
              aria-label={`Remove tag filter ${tag}`}
              onClick={() => setTags((t) => t.filter((x) => x !== tag))}
            >
              {tag} ×
            </button>
          ))}
        </p>
      )}
      {may(membership.role, 'member') && <NewCustomer org={org} onCreated={list.first.reload} />}
      <States
        loaded={list.first}
        empty={(data) => data.length === 0 && (filtered ? 'No customer matches these filters.' : 'No customers yet.')}
      >
        {(data) => (
          <>
            <ul class="cards">
              {[...data, ...list.later].map((c) => (
                <CustomerCard
                  key={c.id}
                  org={org}
                  customer={c}
                  canWrite={may(membership.role, 'member')}
                  onTag={addTag}
                  onChanged={list.first.reload}
                />
              ))}
            </ul>
            <More paged={list} label="Load more" />
          </>
        )}
      </States>
    </Page>
  );
}

function NewCustomer({ org, onCreated }: { org: string; onCreated: () => void }) {
  const empty = { name: '', email: '', company: '', tags: '', status: 'lead' as Status };
  const [form, setForm] = useState(empty);
  const set = (key: keyof typeof empty) => (e: { currentTarget: { value: string } }) =>
    setForm({ ...form, [key]: e.currentTarget.value });
  const create = useAction(async () => {
    unwrap(
      await api.POST('/v1/orgs/{org}/customers', {
        params: { path: { org } },
        body: {
          name: form.name.trim(),
          status: form.status,
          tags: parseTags(form.tags),
          ...(form.email.trim() ? { email: form.email.trim() } : {}),
          ...(form.company.trim() ? { company: form.company.trim() } : {}),
        },
      }),
    );
    setForm(empty);
    onCreated();
  });
  return (
    <details class="card" open>
      <summary>New customer</summary>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          create.run();
        }}
      >
        <Field label="Name">
          <input required maxLength={200} value={form.name} onInput={set('name')} />
        </Field>
        <Field label="Email">
          <input type="email" value={form.email} onInput={set('email')} />
        </Field>
        <Field label="Company">
          <input value={form.company} onInput={set('company')} />
        </Field>
        <Field label="Status">
          <Select value={form.status} options={STATUSES} onChange={(status) => setForm({ ...form, status })} />
        </Field>
        <Field label="Tags" hint="Comma-separated">
          <input value={form.tags} onInput={set('tags')} />
        </Field>
        <button type="submit" class="primary" disabled={create.pending}>
          Add customer
        </button>
      </form>
      <ErrorNote error={create.error} />
    </details>
  );
}

function CustomerCard({
  org,
  customer,
  canWrite,
  onTag,
  onChanged,
}: {
  org: string;
  customer: Customer;
  canWrite: boolean;
  onTag: (tag: string) => void;
  onChanged: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [status, setStatus] = useState(customer.status);
  const [tags, setTags] = useState(customer.tags.join(', '));
  const [notes, setNotes] = useState(customer.notes ?? '');
  const save = useAction(async () => {
    unwrap(
      await api.PATCH('/v1/orgs/{org}/customers/{id}', {
        params: { path: { org, id: customer.id } },
        body: { status, tags: parseTags(tags), notes: notes.trim() || null },
      }),
    );
    setEditing(false);
    onChanged();
  });
  return (
    <li class="card customer">
      <strong>{customer.name}</strong>
      <small>
        {[customer.company, customer.email, humanize(customer.status), customer.source && humanize(customer.source)]
          .filter(Boolean)
          .join(' · ')}
      </small>
      <div>
        {customer.tags.map((tag) => (
          <button key={tag} type="button" class="tag" title={`Show customers tagged ${tag}`} onClick={() => onTag(tag)}>
            {tag}
          </button>
        ))}
      </div>
      {canWrite && !editing && (
        <button type="button" class="link" onClick={() => setEditing(true)}>
          Edit
        </button>
      )}
      {editing && (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            save.run();
          }}
        >
          <Field label="Status">
            <Select value={status} options={STATUSES} onChange={setStatus} />
          </Field>
          <Field label="Tags" hint="Comma-separated">
            <input value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
          </Field>
          <Field label="Notes">
            <textarea rows={3} value={notes} onInput={(e) => setNotes(e.currentTarget.value)} />
          </Field>
          <div class="row small">
            <button type="submit" class="primary" disabled={save.pending}>
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
          <ErrorNote error={save.error} />
        </form>
      )}
    </li>
  );
}

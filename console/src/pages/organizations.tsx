// The organizations someone belongs to, and a new one (its creator is its owner).
import { useState } from 'preact/hooks';
import { api, unwrap } from '../api';
import { useAction } from '../hooks';
import type { Me } from '../main';
import { href, Link, navigate } from '../router';
import { Empty, ErrorNote, Field, Page } from '../ui';

export function Organizations({ me, reload, unknown }: { me: Me; reload: () => void; unknown?: string }) {
  const [name, setName] = useState('');
  const create = useAction(async () => {
    const org = unwrap(await api.POST('/v1/orgs', { body: { name: name.trim() } }));
    reload();
    navigate(href(org.slug, 'projects'));
  });

  return (
    <Page title="Organizations">
      {unknown && <ErrorNote error={`You are not a member of “${unknown}”, or it does not exist.`} />}
      {me.memberships.length === 0 ? (
        <Empty>You are not in any organization yet: create one, or ask an owner to add {me.email}.</Empty>
      ) : (
        <ul class="cards">
          {me.memberships.map((m) => (
            <li key={m.organization.id} class="card">
              <Link to={href(m.organization.slug, 'projects')}>
                <strong>{m.organization.name}</strong>
              </Link>
              <small>
                {m.organization.slug} · {m.role}
              </small>
            </li>
          ))}
        </ul>
      )}
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          create.run();
        }}
      >
        <Field label="New organization">
          <input
            required
            maxLength={100}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            placeholder="Initech"
          />
        </Field>
        <button type="submit" class="primary" disabled={create.pending}>
          Create
        </button>
      </form>
      <ErrorNote error={create.error} />
    </Page>
  );
}

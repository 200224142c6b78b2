// Projects: a list with derived progress, a new one (optionally for a customer), and the way to
// each board and to the assistant about it.
import { useState } from 'preact/hooks';
import { api, may, unwrap, type Schemas } from '../api';
import { useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { href, Link, navigate } from '../router';
import { ErrorNote, Field, humanize, Page, Select, States } from '../ui';

type Project = Schemas['Project'];
const STATUSES = ['planning', 'active', 'on_hold', 'completed', 'cancelled'] as const;

export function Projects({ membership }: OrgProps) {
  const org = membership.organization.slug;
  const [status, setStatus] = useState<Project['status'] | ''>('');
  const projects = useLoad(
    () =>
      api
        .GET('/v1/orgs/{org}/projects', {
          params: { path: { org }, query: { derive: 'progress', limit: 100, ...(status ? { status } : {}) } },
        })
        .then(unwrap),
    [org, status],
  );
  const customers = useLoad(
    () => api.GET('/v1/orgs/{org}/customers', { params: { path: { org }, query: { limit: 100 } } }).then(unwrap),
    [org],
  );
  const [name, setName] = useState('');
  const [customerId, setCustomerId] = useState('');
  const create = useAction(async () => {
    const project = unwrap(
      await api.POST('/v1/orgs/{org}/projects', {
        params: { path: { org } },
        body: { name: name.trim(), status: 'active', ...(customerId ? { customer_id: customerId } : {}) },
      }),
    );
    setName('');
    navigate(href(org, 'projects', project.id));
  });
  const customerName = (id: string | null) => customers.data?.data.find((c) => c.id === id)?.name;

  return (
    <Page
      title="Projects"
      actions={
        <Select label="Status" value={status} options={[['', 'Any status'], ...STATUSES]} onChange={setStatus} />
      }
    >
      {may(membership.role, 'member') && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            create.run();
          }}
        >
          <Field label="New project">
            <input
              required
              maxLength={200}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
              placeholder="Website relaunch"
            />
          </Field>
          <Field label="Customer">
            <Select
              value={customerId}
              options={[['', 'None'], ...(customers.data?.data ?? []).map((c) => [c.id, c.name] as [string, string])]}
              onChange={setCustomerId}
            />
          </Field>
          <button type="submit" class="primary" disabled={create.pending}>
            Create project
          </button>
        </form>
      )}
      <ErrorNote error={create.error} />
      <States
        loaded={projects}
        empty={(page) =>
          page.data.length === 0 && (status ? `No ${humanize(status).toLowerCase()} projects.` : 'No projects yet.')
        }
      >
        {(page) => (
          <ul class="cards">
            {page.data.map((project) => (
              <li key={project.id} class="card">
                <Link to={href(org, 'projects', project.id)}>
                  <strong>{project.name}</strong>
                </Link>
                <small>
                  {humanize(project.status)} · {humanize(project.priority)} priority
                  {project.customer_id && customerName(project.customer_id)
                    ? ` · ${customerName(project.customer_id)}`
                    : ''}
                </small>
                <div
                  class="bar"
                  role="progressbar"
                  aria-label={`${project.name} progress`}
                  aria-valuenow={project.progress_percentage}
                  aria-valuemin={0}
                  aria-valuemax={100}
                >
                  <span style={{ width: `${project.progress_percentage}%` }} />
                </div>
                <div class="row small">
                  <Link to={href(org, 'projects', project.id)}>Board</Link>
                  <Link to={`${href(org, 'assistant')}?context_type=project&context_id=${project.id}`}>
                    Ask the assistant
                  </Link>
                </div>
              </li>
            ))}
          </ul>
        )}
      </States>
    </Page>
  );
}

// The console's shell: sign-in, the organization switcher and navigation, then the page the path names.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiProblem } from '../../client';
import { api, unwrap, type Schemas } from './api';
import { useLoad, useStore } from './hooks';
import { href, Link, navigate, parse, path, Redirect } from './router';
import { loadSession, signedIn, signOut, type ConsoleConfig } from './session';
import { ErrorNote, Loading } from './ui';
import { SignIn } from './pages/sign-in';
import { Organizations } from './pages/organizations';
import { Members } from './pages/members';
import { ApiKeys } from './pages/api-keys';
import { Activity } from './pages/activity';
import { Customers } from './pages/customers';
import { Projects } from './pages/projects';
import { Board } from './pages/board';
import { Assistant } from './pages/assistant';
import { Content } from './pages/content';
import { Appointments } from './pages/appointments';
import { Billing } from './pages/billing';
import './styles.css';

export type Me = Schemas['Me'];
export type Membership = Me['memberships'][number];
/** What every page of an organization gets. */
export type OrgProps = { me: Me; membership: Membership; id?: string };

const PAGES = {
  projects: {
    title: 'Projects',
    view: (p: OrgProps) => (p.id ? <Board {...p} projectId={p.id} /> : <Projects {...p} />),
  },
  customers: { title: 'Customers', view: (p: OrgProps) => <Customers {...p} /> },
  assistant: { title: 'Assistant', view: (p: OrgProps) => <Assistant {...p} /> },
  content: { title: 'Content', view: (p: OrgProps) => <Content {...p} /> },
  appointments: { title: 'Appointments', view: (p: OrgProps) => <Appointments {...p} /> },
  members: { title: 'Members', view: (p: OrgProps) => <Members {...p} /> },
  'api-keys': { title: 'API keys', view: (p: OrgProps) => <ApiKeys {...p} /> },
  activity: { title: 'Activity', view: (p: OrgProps) => <Activity {...p} /> },
  billing: { title: 'Billing', view: (p: OrgProps) => <Billing {...p} /> },
} as const;
type PageName = keyof typeof PAGES;

function App({ config }: { config: ConsoleConfig }) {
  const isSignedIn = useStore(signedIn);
  const current = useStore(path);
  const me = useLoad(() => (isSignedIn ? api.GET('/v1/me').then(unwrap) : Promise.resolve(undefined)), [isSignedIn]);

  if (!isSignedIn) return <SignIn config={config} />;
  if (!me.data) {
    if (!me.error)
      return (
        <main class="center">
          <Loading what="Signing in" />
        </main>
      );
    // A session the API no longer takes (expired, or signed by another key) needs a new sign-in.
    const expired = me.error instanceof ApiProblem && me.error.status === 401;
    return (
      <main class="center">
        <ErrorNote error={me.error} retry={expired ? undefined : me.reload} />
        {expired && (
          <button type="button" class="primary" onClick={() => signOut()}>
            Sign in again
          </button>
        )}
      </main>
    );
  }
  const route = parse(current);
  const membership = me.data.memberships.find(
    (m) => m.organization.slug === route.org || m.organization.id === route.org,
  );
  const first = me.data.memberships[0];
  if (!route.org && first && !location.search.includes('new')) {
    // Home is the first organization; /app/?new is the list with a form for another.
    return <Redirect to={href(first.organization.slug, 'projects')} />;
  }
  if (!route.org || !membership) {
    return (
      <Shell me={me.data}>
        <Organizations me={me.data} reload={me.reload} unknown={route.org} />
      </Shell>
    );
  }
  const page: PageName = route.page && route.page in PAGES ? (route.page as PageName) : 'projects';
  return (
    <Shell me={me.data} membership={membership} page={page}>
      {PAGES[page].view({ me: me.data, membership, id: route.id })}
    </Shell>
  );
}

function Shell({
  me,
  membership,
  page,
  children,
}: {
  me: Me;
  membership?: Membership;
  page?: PageName;
  children: preact.ComponentChildren;
}) {
  const slug = membership?.organization.slug;
  useEffect(() => {
    document.title = [page && PAGES[page].title, membership?.organization.name, 'Strive'].filter(Boolean).join(' · ');
  }, [page, membership]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link to="/app/" class="brand">
          Strive
        </Link>
        <select
          aria-label="Organization"
          value={slug ?? ''}
          onChange={(e) => navigate(e.currentTarget.value === '*' ? '/app/?new' : href(e.currentTarget.value, page))}
        >
          {!slug && (
            <option value="" disabled>
              Choose an organization
            </option>
          )}
          {me.memberships.map((m) => (
            <option key={m.organization.id} value={m.organization.slug}>
              {m.organization.name}
            </option>
          ))}
          <option value="*">New organization…</option>
        </select>
        <span class="who" title={me.email}>
          {me.name ?? me.email}
          {membership && <small> · {membership.role}</small>}
        </span>
        <button type="button" class="link" onClick={() => signOut().then(() => navigate('/app/'))}>
          Sign out
        </button>
      </header>
      {slug && (
        <nav class="tabs" aria-label="Sections">
          {(Object.keys(PAGES) as PageName[]).map((name) => (
            <Link key={name} to={href(slug, name)} aria-current={name === page ? 'page' : undefined}>
              {PAGES[name].title}
            </Link>
          ))}
        </nav>
      )}
      <main id="main">{children}</main>
    </>
  );
}

function Boot() {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    loadSession().then(setConfig, setError);
  }, []);
  if (error)
    return (
      <main class="center">
        <ErrorNote error={error} retry={() => location.reload()} />
      </main>
    );
  return config ? (
    <App config={config} />
  ) : (
    <main class="center">
      <Loading />
    </main>
  );
}

render(<Boot />, document.getElementById('root')!);

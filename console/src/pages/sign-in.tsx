// Signing in: in local dev, as a seeded user (or any email: a new user), through the Worker's dev
// sign-in; in production, on Clerk's hosted sign-in page.
import { useState } from 'preact/hooks';
import { useAction } from '../hooks';
import { devSignIn, signIn, type ConsoleConfig } from '../session';
import { ErrorNote, Field } from '../ui';

/** The dev seed's people (scripts/seed.mjs). */
const SEEDED = [
  { email: 'alice@acme.test', who: 'Alice Anders', what: 'owner of Acme' },
  { email: 'bob@acme.test', who: 'Bob Brown', what: 'member of Acme' },
  { email: 'vic@acme.test', who: 'Vic Viewer', what: 'viewer of Acme' },
  { email: 'carol@globex.test', who: 'Carol Cole', what: 'owner of Globex' },
];

export function SignIn({ config }: { config: ConsoleConfig }) {
  const [email, setEmail] = useState('');
  const action = useAction(devSignIn);
  const clerk = useAction(signIn);

  return (
    <main class="center sign-in">
      <h1>Strive</h1>
      {config.sign_in === 'clerk' && (
        <>
          <p>Sign in with your account.</p>
          <button type="button" class="primary" onClick={() => clerk.run()} disabled={clerk.pending}>
            Sign in
          </button>
          <ErrorNote error={clerk.error} />
        </>
      )}
      {config.sign_in === 'none' && (
        <ErrorNote error="Sign-in is not configured: set CLERK_PUBLISHABLE_KEY in wrangler.toml, or run `npm run dev` locally." />
      )}
      {config.sign_in === 'dev' && (
        <>
          <p>
            Local development: sign in as a seeded user. Tokens are signed by the dev key in <code>.dev.vars</code>.
          </p>
          <ul class="people">
            {SEEDED.map((person) => (
              <li key={person.email}>
                <button type="button" onClick={() => action.run(person.email)} disabled={action.pending}>
                  <strong>{person.who}</strong> <span>{person.email}</span> <small>{person.what}</small>
                </button>
              </li>
            ))}
          </ul>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              action.run(email.trim());
            }}
          >
            <Field label="Or any email (a new user)">
              <input
                type="email"
                required
                value={email}
                onInput={(e) => setEmail(e.currentTarget.value)}
                placeholder="you@example.test"
              />
            </Field>
            <button type="submit" disabled={action.pending}>
              Sign in
            </button>
          </form>
          <ErrorNote error={action.error} />
        </>
      )}
    </main>
  );
}

// Who is signed in, and the session token every request and socket carries. Two ways in, chosen
// by the Worker's /app/config.json: Clerk's hosted sign-in (production), or in local dev a token
// the Worker mints for an email (POST /app/dev-session, which exists only there).
import { store } from './hooks';

export type ConsoleConfig = { sign_in: 'dev' | 'clerk' | 'none'; clerk_publishable_key: string | null };

type DevSession = { email: string; token: string; expiresAt: number };

/** Clerk's browser SDK, the headless build: sign-in itself happens on Clerk's hosted pages. */
type ClerkInstance = {
  load(options?: object): Promise<void>;
  session?: { getToken(): Promise<string | null> } | null;
  redirectToSignIn(options?: { signInForceRedirectUrl?: string }): Promise<unknown>;
  signOut(): Promise<void>;
};

const DEV_KEY = 'strive.devSession';
/** A token is renewed when less than this is left of it. */
const RENEW_MS = 60_000;

let config: ConsoleConfig = { sign_in: 'none', clerk_publishable_key: null };
let clerk: ClerkInstance | null = null;
let dev: DevSession | null = null;

/** True once someone is signed in (the UI re-renders when it changes). */
export const signedIn = store(false);

export async function loadSession(): Promise<ConsoleConfig> {
  const response = await fetch('/app/config.json');
  if (!response.ok) throw new Error(`The console's configuration did not load (${response.status}).`);
  config = await response.json();
  if (config.sign_in === 'dev') {
    dev = readDevSession();
    signedIn.set(dev !== null);
  } else if (config.sign_in === 'clerk') {
    clerk = await loadClerk(config.clerk_publishable_key!);
    signedIn.set(Boolean(clerk.session));
  }
  return config;
}

function readDevSession(): DevSession | null {
  try {
    const stored = JSON.parse(localStorage.getItem(DEV_KEY) ?? 'null') as DevSession | null;
    return stored?.email && stored.token ? stored : null;
  } catch {
    return null;
  }
}

/** Dev only: a session for `email` (a seeded user, or anyone: a new user is provisioned on first use). */
export async function devSignIn(email: string): Promise<void> {
  const response = await fetch('/app/dev-session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail ?? `Sign-in failed (${response.status}).`);
  dev = { email, token: body.token, expiresAt: Date.parse(body.expires_at) };
  // localStorage: every tab of the console shares the sign-in, as Clerk's sessions do.
  localStorage.setItem(DEV_KEY, JSON.stringify(dev));
  signedIn.set(true);
}

export async function signIn(): Promise<void> {
  await clerk?.redirectToSignIn({ signInForceRedirectUrl: location.href });
}

export async function signOut(): Promise<void> {
  localStorage.removeItem(DEV_KEY);
  dev = null;
  await clerk?.signOut();
  signedIn.set(false);
}

/** The bearer token for the next request or socket, renewed before it expires. */
export async function sessionToken(): Promise<string | null> {
  if (clerk) return (await clerk.session?.getToken()) ?? null;
  if (!dev) return null;
  if (dev.expiresAt - Date.now() < RENEW_MS) await devSignIn(dev.email);
  return dev.token;
}

/**
 * Clerk's headless browser SDK from the instance's own Frontend API (the host the publishable
 * key names), as Clerk documents for apps without a bundler integration; the CSP admits that host.
 */
function loadClerk(publishableKey: string): Promise<ClerkInstance> {
  const host = atob(publishableKey.replace(/^pk_(test|live)_/, '')).replace(/\$$/, '');
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = `https://${host}/npm/@clerk/clerk-js@5/dist/clerk.headless.browser.js`;
    script.async = true;
    script.crossOrigin = 'anonymous';
    script.dataset.clerkPublishableKey = publishableKey;
    script.onerror = () => reject(new Error('Clerk could not be loaded.'));
    script.onload = async () => {
      const instance = (window as unknown as { Clerk: ClerkInstance }).Clerk;
      try {
        await instance.load();
        resolve(instance);
      } catch (error) {
        reject(error);
      }
    };
    document.head.append(script);
  });
}

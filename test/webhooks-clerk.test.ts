// POST /v1/webhooks/clerk: Clerk → Strive user sync. Deliveries are signed here exactly as Svix
// (Standard Webhooks) signs them, with WebCrypto and the endpoint's `whsec_` secret, so these
// tests exercise the real verification path, not a mock of it.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { base64Decode } from '../src/lib/crypto';
import { api, expectProblem, newOrg, signToken, type ApiResponse } from './helpers';

const encoder = new TextEncoder();

function base64(bytes: ArrayBuffer): string {
  let binary = '';
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** `v1,` + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)), the secret being the bytes after `whsec_`. */
async function svixSignature(
  id: string,
  timestamp: number,
  body: string,
  secret = env.CLERK_WEBHOOK_SECRET,
): Promise<string> {
  const keyBytes = base64Decode(secret.replace(/^whsec_/, ''));
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(`${id}.${timestamp}.${body}`));
  return `v1,${base64(mac)}`;
}

type Delivery = { id?: string; timestamp?: number; body: string; signature?: string };

async function deliver({
  id = `msg_${crypto.randomUUID()}`,
  timestamp = Math.floor(Date.now() / 1000),
  body,
  signature,
}: Delivery): Promise<ApiResponse> {
  return api('POST', '/v1/webhooks/clerk', {
    body,
    headers: {
      'svix-id': id,
      'svix-timestamp': String(timestamp),
      'svix-signature': signature ?? (await svixSignature(id, timestamp, body)),
    },
  });
}

type ClerkProfile = {
  clerkId: string;
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  imageUrl?: string;
  updatedAt?: number;
};

/** Clerk's UserJSON, as its webhooks send it. */
function userJson({
  clerkId,
  email,
  firstName = 'Ada',
  lastName = 'Lovelace',
  imageUrl = 'https://img.clerk.com/ada.png',
  updatedAt,
}: ClerkProfile) {
  const emailId = `idn_${crypto.randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const now = Date.now();
  return {
    id: clerkId,
    object: 'user',
    username: null,
    first_name: firstName,
    last_name: lastName,
    image_url: imageUrl,
    has_image: true,
    primary_email_address_id: emailId,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    password_enabled: true,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    email_addresses: [
      {
        id: `idn_${crypto.randomUUID().replace(/-/g, '').slice(0, 24)}`,
        object: 'email_address',
        email_address: `secondary-${crypto.randomUUID().slice(0, 8)}@strive.test`,
        verification: { status: 'unverified', strategy: 'email_code', attempts: 0, expire_at: now + 600_000 },
        linked_to: [],
      },
      {
        id: emailId,
        object: 'email_address',
        email_address: email,
        verification: { status: 'verified', strategy: 'email_code', attempts: 1, expire_at: now + 600_000 },
        linked_to: [],
      },
    ],
    phone_numbers: [],
    web3_wallets: [],
    external_accounts: [],
    saml_accounts: [],
    organization_memberships: null,
    password_last_updated_at: now,
    public_metadata: {},
    private_metadata: {},
    unsafe_metadata: {},
    external_id: null,
    last_sign_in_at: null,
    banned: false,
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: 100,
    created_at: now,
    updated_at: updatedAt ?? now,
    last_active_at: null,
    create_organization_enabled: true,
    create_organizations_limit: null,
    delete_self_enabled: true,
    legal_accepted_at: null,
    locale: null,
  };
}

/** The Svix envelope Clerk wraps every event in. */
function event(type: string, data: object): string {
  return JSON.stringify({
    data,
    event_attributes: { http_request: { client_ip: '203.0.113.9', user_agent: 'Mozilla/5.0' } },
    instance_id: 'ins_2abc',
    object: 'event',
    timestamp: Date.now(),
    type,
  });
}

const newClerkId = () => `user_${crypto.randomUUID().replace(/-/g, '').slice(0, 27)}`;
const newEmail = (label = 'hook') => `${label}-${crypto.randomUUID().slice(0, 8)}@strive.test`;

type UserRow = {
  id: string;
  clerk_user_id: string | null;
  email: string;
  first_name: string | null;
  last_name: string | null;
  name: string | null;
  avatar_url: string | null;
  is_active: number;
};

const userByClerkId = (clerkId: string) =>
  env.CATALOG.prepare('SELECT * FROM users WHERE clerk_user_id = ?').bind(clerkId).first<UserRow>();
const userByEmail = (email: string) =>
  env.CATALOG.prepare('SELECT * FROM users WHERE email = ?').bind(email).first<UserRow>();

/** A session token without an email claim: only a user the catalog already knows can use it. */
const tokenWithoutEmail = (clerkId: string) => signToken({ sub: clerkId });

async function createViaWebhook(profile: Partial<ClerkProfile> = {}) {
  const clerkId = profile.clerkId ?? newClerkId();
  const email = profile.email ?? newEmail();
  const res = await deliver({ body: event('user.created', userJson({ ...profile, clerkId, email })) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toEqual({ received: true, applied: true });
  return { clerkId, email };
}

describe('POST /v1/webhooks/clerk', () => {
  it("reads and writes the catalog on the primary: replays and Clerk's order are decided by its latest state", async () => {
    const res = await deliver({ body: event('user.created', userJson({ clerkId: newClerkId(), email: newEmail() })) });
    expect(res.status).toBe(200);
    // One batch: the effect unless the event is recorded already, and its record.
    expect(res.headers.get('x-d1-instances')).toBe('catalog:primary');
    expect(res.farHops).toBe(1);
  });

  it('provisions the user on a signed user.created, so a token without an email claim then works on /v1/me', async () => {
    const clerkId = newClerkId();
    const email = newEmail('Created').toLowerCase();
    const token = await tokenWithoutEmail(clerkId);
    // Before the webhook, the catalog does not know this user and the token has no email.
    expectProblem(await api('GET', '/v1/me', { token }), 401, 'user_not_synced');

    await createViaWebhook({ clerkId, email: email.toUpperCase(), firstName: 'Grace', lastName: 'Hopper' });

    const me = await api('GET', '/v1/me', { token });
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body).toMatchObject({
      email, // the primary address, lower-cased; not the secondary one listed first
      first_name: 'Grace',
      last_name: 'Hopper',
      name: 'Grace Hopper',
      avatar_url: 'https://img.clerk.com/ada.png',
      is_active: true,
      memberships: [],
    });
    // Its Clerk id is readable (SCHEMA.md's users.clerk_user_id); Clerk's event clock is not.
    expect(me.body.clerk_user_id).toBe(clerkId);
    expect(me.body).not.toHaveProperty('clerk_updated_at');
  });

  it('applies user.updated to name, email and avatar', async () => {
    const { clerkId } = await createViaWebhook();
    const before = await userByClerkId(clerkId);
    const email = newEmail('renamed');
    const res = await deliver({
      body: event(
        'user.updated',
        userJson({ clerkId, email, firstName: 'Augusta', lastName: 'King', imageUrl: 'https://img.clerk.com/new.png' }),
      ),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, applied: true });

    const me = await api('GET', '/v1/me', { token: await tokenWithoutEmail(clerkId) });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      id: before!.id,
      email,
      first_name: 'Augusta',
      last_name: 'King',
      name: 'Augusta King',
      avatar_url: 'https://img.clerk.com/new.png',
    });
  });

  it('applies a user.updated that changes only the name (both unique keys match the same row)', async () => {
    const { clerkId, email } = await createViaWebhook();
    const res = await deliver({
      body: event('user.updated', userJson({ clerkId, email, firstName: 'Only', lastName: 'Renamed' })),
    });
    expect(res.body).toEqual({ received: true, applied: true });
    expect(await userByClerkId(clerkId)).toMatchObject({
      email,
      first_name: 'Only',
      last_name: 'Renamed',
      name: 'Only Renamed',
    });
  });

  it('deactivates on user.deleted: the token then gets 401 and the row stays', async () => {
    const { clerkId, email } = await createViaWebhook();
    const token = await tokenWithoutEmail(clerkId);
    expect((await api('GET', '/v1/me', { token })).status).toBe(200);

    const res = await deliver({ body: event('user.deleted', { deleted: true, id: clerkId, object: 'user' }) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, applied: true });

    expectProblem(await api('GET', '/v1/me', { token }), 401, 'unauthenticated');
    const row = await userByClerkId(clerkId);
    expect(row).toMatchObject({ email, is_active: 0 });
  });

  it('cuts a deleted user off their organizations at once, even with access cached', async () => {
    const { clerkId } = await createViaWebhook();
    const token = await tokenWithoutEmail(clerkId);
    const me = await api('GET', '/v1/me', { token });
    const org = await newOrg({ email: me.body.email, sub: clerkId, token, id: me.body.id });
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token })).status).toBe(200); // now cached

    await deliver({ body: event('user.deleted', { deleted: true, id: clerkId, object: 'user' }) });

    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token }), 401, 'unauthenticated');
  });

  it('stops the API keys of a deleted user, and a late user.updated does not bring the user back', async () => {
    const { clerkId, email } = await createViaWebhook();
    const token = await tokenWithoutEmail(clerkId);
    const me = await api('GET', '/v1/me', { token });
    const org = await newOrg({ email: me.body.email, sub: clerkId, token, id: me.body.id });
    const key = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token,
      body: { name: 'ci', scopes: ['organization:read'] },
    });
    expect(key.status).toBe(201);
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: key.body.key })).status).toBe(200); // cached

    await deliver({ body: event('user.deleted', { deleted: true, id: clerkId, object: 'user' }) });
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: key.body.key }), 401, 'unauthenticated');

    await deliver({ body: event('user.updated', userJson({ clerkId, email, firstName: 'Late' })) });
    expectProblem(await api('GET', '/v1/me', { token }), 401, 'unauthenticated');
    expect(await userByClerkId(clerkId)).toMatchObject({ is_active: 0 });
  });

  it('answers a replayed svix-id with 200 applied false and changes nothing', async () => {
    const { clerkId, email } = await createViaWebhook({ firstName: 'First', lastName: 'Name' });
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const body = event('user.updated', userJson({ clerkId, email, firstName: 'Second', lastName: 'Name' }));
    expect((await deliver({ id, timestamp, body })).body).toEqual({ received: true, applied: true });

    // A later, distinct event sets the name again…
    expect(
      (
        await deliver({
          body: event('user.updated', userJson({ clerkId, email, firstName: 'Third', lastName: 'Name' })),
        })
      ).body,
    ).toEqual({ received: true, applied: true });
    // …and Svix redelivering the earlier message must not roll it back.
    const replay = await deliver({ id, timestamp, body });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ received: true, applied: false });
    expect(await userByClerkId(clerkId)).toMatchObject({ first_name: 'Third', name: 'Third Name' });
    const recorded = await env.CATALOG.prepare(
      "SELECT count(*) AS n FROM processed_events WHERE source = 'clerk' AND event_id = ?",
    )
      .bind(id)
      .first<{ n: number }>();
    expect(recorded!.n).toBe(1);
  });

  it('answers 401 to an unsigned delivery and applies nothing', async () => {
    const clerkId = newClerkId();
    const res = await api('POST', '/v1/webhooks/clerk', {
      body: event('user.created', userJson({ clerkId, email: newEmail() })),
    });
    expectProblem(res, 401, 'unauthenticated');
    expect(await userByClerkId(clerkId)).toBeNull();
  });

  it('answers 401 to a body tampered with after signing', async () => {
    const clerkId = newClerkId();
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const signed = event('user.created', userJson({ clerkId, email: newEmail() }));
    const signature = await svixSignature(id, timestamp, signed);
    const tampered = signed.replace('"first_name":"Ada"', '"first_name":"Mallory"');
    expect(tampered).not.toBe(signed);

    expectProblem(await deliver({ id, timestamp, body: tampered, signature }), 401, 'unauthenticated');
    expect(await userByClerkId(clerkId)).toBeNull();
  });

  it('answers 401 to a signature made with another secret', async () => {
    const clerkId = newClerkId();
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const body = event('user.created', userJson({ clerkId, email: newEmail() }));
    const otherSecret = `whsec_${btoa('a-completely-different-secret!!!')}`;
    expectProblem(
      await deliver({ id, timestamp, body, signature: await svixSignature(id, timestamp, body, otherSecret) }),
      401,
      'unauthenticated',
    );
    expect(await userByClerkId(clerkId)).toBeNull();
  });

  it('answers 401 to a correctly signed delivery whose timestamp is 10 minutes old', async () => {
    const clerkId = newClerkId();
    const res = await deliver({
      timestamp: Math.floor(Date.now() / 1000) - 600,
      body: event('user.created', userJson({ clerkId, email: newEmail() })),
    });
    expectProblem(res, 401, 'unauthenticated');
    expect(await userByClerkId(clerkId)).toBeNull();
  });

  it('answers 200 applied false to an event type it does not act on', async () => {
    const id = `msg_${crypto.randomUUID()}`;
    const res = await deliver({
      id,
      body: event('session.created', {
        id: 'sess_2abc',
        object: 'session',
        user_id: newClerkId(),
        status: 'active',
        created_at: Date.now(),
        updated_at: Date.now(),
      }),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, applied: false });
  });

  it('links a user.created to the placeholder an invitation made for that email', async () => {
    const org = await newOrg();
    const email = newEmail('invitee');
    const invited = await api('POST', `/v1/orgs/${org.slug}/members`, {
      token: org.owner.token,
      body: { email, role: 'member' },
    });
    expect(invited.status).toBe(201);
    const placeholderId = invited.body.user_id;
    expect((await userByEmail(email))!.clerk_user_id).toBeNull();

    const { clerkId } = await createViaWebhook({ email, firstName: 'Invited', lastName: 'Person' });

    const row = await userByEmail(email);
    expect(row).toMatchObject({ id: placeholderId, clerk_user_id: clerkId, name: 'Invited Person' });
    const me = await api('GET', '/v1/me', { token: await tokenWithoutEmail(clerkId) });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(placeholderId);
    expect(me.body.memberships).toEqual([
      { organization: { id: org.id, slug: org.slug, name: `Org ${org.slug}` }, role: 'member' },
    ]);
  });

  it('claims an invitation only through the primary email, and only once Clerk has verified it', async () => {
    const org = await newOrg();
    const email = newEmail('invitee');
    expect(
      (await api('POST', `/v1/orgs/${org.slug}/members`, { token: org.owner.token, body: { email, role: 'admin' } }))
        .status,
    ).toBe(201);
    const outsider = newClerkId();
    const base = userJson({ clerkId: outsider, email: newEmail('outsider') });
    const [secondary, ownPrimary] = base.email_addresses as [
      (typeof base.email_addresses)[0],
      (typeof base.email_addresses)[0],
    ];
    const inviteeAddress = (status: string, id = 'idn_invitee') => ({
      ...secondary,
      id,
      email_address: email,
      verification: { ...secondary.verification, status },
    });
    const attempts = {
      'an unverified address and no primary (signed up by phone)': {
        ...base,
        primary_email_address_id: null,
        email_addresses: [inviteeAddress('unverified')],
      },
      'a primary id that names none of the addresses': {
        ...base,
        primary_email_address_id: 'idn_missing',
        email_addresses: [inviteeAddress('verified')],
      },
      'the primary, unverified': {
        ...base,
        primary_email_address_id: 'idn_invitee',
        email_addresses: [inviteeAddress('unverified')],
      },
      'a verified secondary beside their own primary': {
        ...base,
        email_addresses: [inviteeAddress('verified'), ownPrimary],
      },
    };
    for (const [label, user] of Object.entries(attempts)) {
      const res = await deliver({ body: event('user.created', user) });
      expect(res.status, label).toBe(200);
      expect((await userByEmail(email))!.clerk_user_id, label).toBeNull();
    }
    // The last attempt made the outsider a user of their own address, in no organization.
    const token = await tokenWithoutEmail(outsider);
    expect((await api('GET', '/v1/me', { token })).body).toMatchObject({
      email: ownPrimary.email_address,
      memberships: [],
    });
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token }), 404, 'not_found');
    // Unverified, the event changes nothing; once Clerk verifies the primary, the update applies.
    const someone = newClerkId();
    const pending = userJson({ clerkId: someone, email: newEmail('later') });
    const [, primary] = pending.email_addresses;
    const created = await deliver({
      body: event('user.created', {
        ...pending,
        email_addresses: [{ ...primary!, verification: { ...primary!.verification, status: 'unverified' } }],
      }),
    });
    expect(created.body).toEqual({ received: true, applied: false });
    expect(await userByClerkId(someone)).toBeNull();
    const updated = await deliver({ body: event('user.updated', { ...pending, email_addresses: [primary] }) });
    expect(updated.body).toEqual({ received: true, applied: true });
    expect(await userByClerkId(someone)).toMatchObject({ email: primary!.email_address });
  });

  it('keeps a Clerk image_url as the avatar only if it is an http(s) URL', async () => {
    const { clerkId } = await createViaWebhook({ imageUrl: 'javascript:alert(1)' });
    expect(await userByClerkId(clerkId)).toMatchObject({ avatar_url: null });
  });

  it('ignores a user.updated older than the state it holds (out-of-order delivery)', async () => {
    const { clerkId, email } = await createViaWebhook();
    const newer = await deliver({
      body: event('user.updated', userJson({ clerkId, email, firstName: 'Newer', updatedAt: Date.now() + 60_000 })),
    });
    expect(newer.body).toEqual({ received: true, applied: true });
    const late = await deliver({
      body: event('user.updated', userJson({ clerkId, email, firstName: 'Older', updatedAt: Date.now() })),
    });
    expect(late.status).toBe(200);
    expect(await userByClerkId(clerkId)).toMatchObject({ first_name: 'Newer' });
  });

  it('answers 200 applied false (not a retried 5xx) when an update moves to an email another user holds', async () => {
    const { clerkId, email } = await createViaWebhook();
    const taken = (await createViaWebhook()).email;
    const res = await deliver({ body: event('user.updated', userJson({ clerkId, email: taken, firstName: 'Clash' })) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, applied: false });
    expect(await userByClerkId(clerkId)).toMatchObject({ email, first_name: 'Ada' });
  });

  it('never hands an email that belongs to another Clerk user to a new Clerk id', async () => {
    const { clerkId, email } = await createViaWebhook();
    const intruder = newClerkId();
    const res = await deliver({
      body: event('user.created', userJson({ clerkId: intruder, email, firstName: 'Mallory' })),
    });
    expect(res.status).toBe(200);
    expect(await userByClerkId(intruder)).toBeNull();
    expect(await userByEmail(email)).toMatchObject({ clerk_user_id: clerkId, first_name: 'Ada' });
  });
});

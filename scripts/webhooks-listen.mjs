// `npm run webhooks:listen [-- --org acme --email alice@acme.test --api http://127.0.0.1:8787]`:
// a local receiver for outbound webhooks. It registers itself as a webhook endpoint of a dev-seed
// organization (through the API, as its owner, with a dev token), verifies each delivery's
// Standard Webhooks signature with the secret it was given, prints the event, and removes the
// endpoint when stopped (Ctrl-C). The Worker accepts its https://127.0.0.1 URL only because
// `npm run setup` put WEBHOOKS_DEV_RECEIVER in .dev.vars: never in production.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { DEV_PRIVATE_KEY_PATH, WEBHOOKS_LISTEN_PORT } from './dev-identity.mjs';
import { signDevToken } from './token.mjs';

const { values } = parseArgs({
  options: {
    org: { type: 'string', default: 'acme' },
    email: { type: 'string', default: 'alice@acme.test' },
    api: { type: 'string', default: 'http://127.0.0.1:8787' },
    /** Answer this status instead of 200 (to watch retries, or 410 to see the endpoint paused). */
    status: { type: 'string', default: '200' },
  },
});

const token = signDevToken({
  privateKeyPem: readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8'),
  email: values.email,
  ttl: 86_400,
});
const call = async (method, path, body) => {
  const response = await fetch(`${values.api}/v1/orgs/${values.org}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
};

let webhook;
const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      const event = new Webhook(webhook.secret).verify(body, request.headers);
      console.log(`✓ #${event.sequence ?? '-'} ${event.type} ${event.id} by ${event.actor.type}`);
      console.log(JSON.stringify(event.data, null, 2));
    } catch (error) {
      console.log(`✗ signature refused (${error.message}): ${body.slice(0, 200)}`);
    }
    response.writeHead(Number(values.status)).end();
  });
});

server.listen(WEBHOOKS_LISTEN_PORT, '127.0.0.1', async () => {
  try {
    webhook = await call('POST', '/webhooks', {
      // Registered as https (endpoints hold https URLs only); the Worker sends to it over http.
      url: `https://127.0.0.1:${WEBHOOKS_LISTEN_PORT}/`,
      description: 'npm run webhooks:listen',
    });
  } catch (error) {
    console.error(
      `Could not register (is \`npm run dev\` running, with WEBHOOKS_DEV_RECEIVER in .dev.vars?): ${error.message}`,
    );
    process.exit(1);
  }
  console.log(
    `Listening on http://127.0.0.1:${WEBHOOKS_LISTEN_PORT}/ as webhook ${webhook.id} of ${values.org}. Ctrl-C stops.`,
  );
  await call('POST', `/webhooks/${webhook.id}/test`);
});

process.on('SIGINT', async () => {
  if (webhook) await call('DELETE', `/webhooks/${webhook.id}`).catch((error) => console.error(error.message));
  server.close();
  process.exit(0);
});

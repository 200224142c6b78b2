// `npm run bench:webhooks`: what outbound webhooks cost, on the bundle as deployed (Miniflare, a
// copy of the dev data, every outbound fetch answered in-process by a receiver that counts):
//   - the added latency of an audited write once the organization has an endpoint (the outbox
//     row written by the trigger, and the drain message), and its D1 round trips (unchanged);
//   - events per second from the API through the outbox, the queue and the consumer to the receiver.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { devToken } from './lib/worker.mjs';
import { devSetup } from './dev-setup.mjs';
import { buildBundle, liftQuotas, startOnCopy } from './local-worker.mjs';

const ORG = 'acme';
const WRITES = 200;
const BURST = 500;
const CONCURRENCY = 10;

let received = 0;
const receiver = async () => {
  received++;
  return new Response('ok');
};

async function writes(url, token, count, concurrency = 1) {
  const latencies = [];
  let roundTrips = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const started = performance.now();
        const response = await fetch(`${url}/v1/orgs/${ORG}/customers`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `Bench ${n}` }),
        });
        await response.text();
        if (response.status !== 201) throw new Error(`POST /customers answered ${response.status}`);
        latencies.push(performance.now() - started);
        roundTrips = Number(response.headers.get('x-d1-round-trips'));
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    p50: latencies[latencies.length >> 1],
    roundTrips,
  };
}

async function main() {
  devSetup();
  const outdir = mkdtempSync(path.join(tmpdir(), 'strive-bench-webhooks-'));
  const workers = [];
  try {
    const scriptPath = buildBundle(outdir);
    const { mf, url } = await startOnCopy(scriptPath, outdir, 'main', workers, {
      vars: { OUTBOUND_DNS_CHECK: 'off' },
      outbound: receiver,
    });
    await liftQuotas(mf, ORG);
    const token = devToken('alice@acme.test', 3600);
    await writes(url, token, 20); // warm-up
    const without = await writes(url, token, WRITES);
    const hook = await fetch(`${url}/v1/orgs/${ORG}/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://receiver.bench.example/hook', event_types: ['customer.create'] }),
    });
    if (hook.status !== 201) throw new Error(`POST /webhooks answered ${hook.status}: ${await hook.text()}`);
    const withEndpoint = await writes(url, token, WRITES);
    console.log(`Audited write (POST /customers), ${WRITES} sequential, mean / p50 ms, D1 round trips:`);
    console.log(`  no endpoint:   ${without.mean.toFixed(2)} / ${without.p50.toFixed(2)}, ${without.roundTrips}`);
    console.log(
      `  one endpoint:  ${withEndpoint.mean.toFixed(2)} / ${withEndpoint.p50.toFixed(2)}, ${withEndpoint.roundTrips}`,
    );
    console.log(`  added:         ${(withEndpoint.mean - without.mean).toFixed(2)} ms per write`);

    // Let the sequential run's deliveries arrive, then a burst, timed until its last event arrives.
    const settle = async (target) => {
      const deadline = Date.now() + 120_000;
      while (received < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return received >= target;
    };
    await settle(WRITES);
    const base = received;
    const started = performance.now();
    await writes(url, token, BURST, CONCURRENCY);
    const written = performance.now();
    const complete = await settle(base + BURST);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `Burst of ${BURST} writes (${CONCURRENCY} at a time): written in ${((written - started) / 1000).toFixed(2)} s, ` +
        `${received - base} events delivered in ${seconds.toFixed(2)} s: ${((received - base) / seconds).toFixed(0)} events/s end to end` +
        (complete ? '' : ' (INCOMPLETE: not every event arrived within 2 minutes)'),
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.dispose()));
    rmSync(outdir, { recursive: true, force: true });
  }
}

await main();

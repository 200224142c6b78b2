// `npm run test:browser`: the console in the system Chromium (playwright-core), against the Worker
// as `npm run dev` serves it (wrangler's dev server, on a free port and a throwaway copy of the
// seeded dev data). Everything stays on 127.0.0.1. On a failure every open page is photographed
// into test-results/browser/ (git-ignored). SCREENSHOTS=docs also writes the board and the chat
// into docs/ for README.md.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { buildConsole } from '../../scripts/console-build.mjs';
import { ROOT } from '../../scripts/dev-identity.mjs';
import { devSetup } from '../../scripts/dev-setup.mjs';
import { startLocalWorker } from '../../scripts/served-worker.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FAILURES = path.join(ROOT, 'test-results', 'browser');
const DOCS = process.env.SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs') : null;
const TAG = Date.now().toString(36);

let worker;
let browser;
const pages = new Set();

/** A signed-in person in their own browser context (their own storage), `width` px wide. */
async function person(email, { width = 1280 } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 860 } });
  context.on('page', (page) => {
    pages.add(page);
    page.on('close', () => pages.delete(page));
  });
  const page = await context.newPage();
  await page.goto(`${worker.url}/app/`);
  await page.getByRole('button', { name: new RegExp(email.replace('.', '\\.')) }).click();
  await page.locator('header .who').waitFor();
  return page;
}

/** A step whose failure leaves a screenshot of every open page. */
function step(name, fn, options = {}) {
  return test(name, { timeout: 60_000, ...options }, async () => {
    try {
      await fn();
    } catch (error) {
      mkdirSync(FAILURES, { recursive: true });
      let n = 0;
      for (const page of pages) {
        const file = path.join(FAILURES, `${name.replace(/\W+/g, '-')}-${++n}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
        console.error(`  screenshot: ${path.relative(ROOT, file)} (${page.url()})`);
      }
      throw error;
    }
  });
}

const column = (page, status) => page.locator(`[data-column="${status}"]`);
const card = (page, status, title) => column(page, status).locator('[data-task-id]', { hasText: title });

before(async () => {
  buildConsole({ quiet: true });
  devSetup();
  worker = await startLocalWorker({ seeded: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Nothing but the machine itself resolves: a request anywhere else fails instead of leaving.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  console.log(`Worker on ${worker.url}; Chromium ${browser.version()}`);
});

after(async () => {
  await browser?.close();
  await worker?.dispose();
});

describe('the console', () => {
  let alice;
  let boardUrl;
  const project = `Browser project ${TAG}`;
  const customer = `Browser customer ${TAG}`;

  step('signs in as a seeded user and creates a customer and a project', async () => {
    alice = await person('alice@acme.test');
    assert.match(alice.url(), /\/app\/acme\/projects$/);

    await alice.getByRole('link', { name: 'Customers', exact: true }).click();
    await alice.getByLabel('Name').fill(customer);
    await alice.getByLabel('Tags').fill('browser, e2e');
    await alice.getByRole('button', { name: 'Add customer' }).click();
    await alice.locator('.customer', { hasText: customer }).waitFor();

    await alice.getByRole('link', { name: 'Projects', exact: true }).click();
    await alice.getByLabel('New project').fill(project);
    await alice.getByLabel('Customer').selectOption({ label: customer });
    await alice.getByRole('button', { name: 'Create project' }).click();
    await alice.getByRole('heading', { name: project }).waitFor();
    boardUrl = alice.url();
    for (const title of ['Alpha', 'Bravo', 'Charlie']) {
      await alice.getByLabel('New task').fill(title);
      await alice.getByRole('button', { name: 'Add task' }).click();
      await card(alice, 'todo', title).waitFor();
    }
  });

  step("shows two people on one board each other's drag within a second", async () => {
    const bob = await person('bob@acme.test');
    await bob.goto(boardUrl);
    await card(bob, 'todo', 'Alpha').waitFor();
    // Both watch: each sees two avatars.
    for (const page of [alice, bob]) await page.locator('.presence .avatar').nth(1).waitFor();

    await card(alice, 'todo', 'Alpha').dragTo(column(alice, 'in_progress').locator('ol'));
    let start = Date.now();
    await card(bob, 'in_progress', 'Alpha').waitFor({ timeout: 1000 });
    console.log(`  alice's drag reached bob in ${Date.now() - start} ms`);

    await card(bob, 'todo', 'Charlie').dragTo(card(bob, 'todo', 'Bravo'));
    start = Date.now();
    await alice.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-column="todo"] [data-task-id] .title')]
          .map((e) => e.textContent)
          .join() === 'Charlie,Bravo',
      null,
      { timeout: 1000 },
    );
    console.log(`  bob's reorder reached alice in ${Date.now() - start} ms`);
    // Somebody else's move animates in.
    assert.match(await card(alice, 'todo', 'Charlie').getAttribute('class'), /arrived/);
    if (DOCS) await alice.screenshot({ path: path.join(DOCS, 'console-board.png') });
    await bob.context().close();
  });

  step('moves a card with the keyboard alone', async () => {
    const url = alice.url();
    await card(alice, 'in_progress', 'Alpha').focus();
    await alice.keyboard.press('Alt+ArrowRight');
    await card(alice, 'review', 'Alpha').waitFor({ timeout: 2000 });
    // Focus stays on the card, and Alt+ArrowLeft is a move here, not the browser's Back.
    await alice.keyboard.press('Alt+ArrowLeft');
    await card(alice, 'in_progress', 'Alpha').waitFor({ timeout: 2000 });
    assert.equal(alice.url(), url);
    assert.equal(await alice.evaluate(() => document.activeElement?.querySelector('.title')?.textContent), 'Alpha');
  });

  step('does not let a viewer drag', async () => {
    const vic = await person('vic@acme.test');
    await vic.goto(boardUrl);
    await vic.getByText('You are watching').waitFor();
    const bravo = card(vic, 'todo', 'Bravo');
    assert.equal(await bravo.getAttribute('draggable'), 'false');
    await bravo.dragTo(column(vic, 'done').locator('ol'));
    await bravo.focus();
    await vic.keyboard.press('Alt+ArrowRight');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await card(vic, 'todo', 'Bravo').count(), 1);
    assert.equal(await card(alice, 'todo', 'Bravo').count(), 1);
    await vic.context().close();
  });

  step('snaps a stale move back to where the server has the card', async () => {
    // Bob's page misses the news of Alice's move (its socket drops it), so its view goes stale.
    const bob = await person('bob@acme.test');
    await bob.routeWebSocket(/\/board\/ws/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => {
        const event = JSON.parse(message);
        if (event.type === 'task.moved' && event.task.title === 'Bravo') return;
        ws.send(message);
      });
    });
    await bob.goto(boardUrl);
    await card(bob, 'todo', 'Bravo').waitFor();
    await card(alice, 'todo', 'Bravo').dragTo(column(alice, 'review').locator('ol'));
    await card(alice, 'review', 'Bravo').waitFor();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await card(bob, 'todo', 'Bravo').count(), 1, "bob's page did not hear of the move");

    await card(bob, 'todo', 'Bravo').dragTo(column(bob, 'done').locator('ol'));
    await card(bob, 'review', 'Bravo').waitFor({ timeout: 2000 });
    assert.match(await card(bob, 'review', 'Bravo').getAttribute('class'), /snapped/);
    await bob.getByRole('alert').filter({ hasText: 'Stale version' }).waitFor();
    assert.equal(await card(alice, 'review', 'Bravo').count(), 1, 'the stale move changed nothing');
    await bob.context().close();
  });

  step('streams an answer token by token into two tabs', async () => {
    await alice.getByRole('link', { name: 'Assistant', exact: true }).click();
    await alice.getByRole('link', { name: 'Relaunch status' }).click();
    const second = await alice.context().newPage();
    await second.goto(alice.url());
    for (const page of [alice, second]) await page.getByRole('button', { name: 'Send' }).waitFor();

    // Each tab records the streaming answer's length whenever it changes, from before the send.
    const record = (page) =>
      page.evaluate(
        () =>
          new Promise((resolve) => {
            const lengths = [];
            const observer = new MutationObserver(() => {
              const streaming = document.querySelector('.message.streaming .text');
              if (streaming && streaming.textContent.length !== lengths.at(-1))
                lengths.push(streaming.textContent.length);
              if (!streaming && lengths.length > 0) {
                observer.disconnect();
                resolve({ lengths, final: document.querySelector('.message.assistant:last-child .text')?.textContent });
              }
            });
            observer.observe(document.body, { subtree: true, childList: true, characterData: true });
          }),
      );
    const seen = [record(alice), record(second)];
    await alice.getByRole('textbox', { name: 'Message' }).fill(`What is still open? (${TAG})`);
    await alice.getByRole('button', { name: 'Send' }).click();
    if (DOCS) {
      // Mid-answer, in the tab that did not ask.
      await second.waitForFunction(
        () => (document.querySelector('.message.streaming .text')?.textContent.length ?? 0) > 150,
      );
      await second.screenshot({ path: path.join(DOCS, 'console-chat.png') });
    }
    const [first, other] = await Promise.all(seen);
    for (const tab of [first, other]) {
      assert.ok(tab.lengths.length >= 5, `the answer arrived in ${tab.lengths.length} steps: ${tab.lengths}`);
      assert.deepEqual(
        [...tab.lengths].sort((a, b) => a - b),
        tab.lengths,
        'the answer only grows',
      );
      assert.match(tab.final, new RegExp(TAG));
    }
    assert.equal(first.final, other.final);
    console.log(`  the answer grew in ${first.lengths.length} and ${other.lengths.length} steps in the two tabs`);

    // The other tab cancels the next answer: both show it cancelled, with what had arrived.
    await alice.getByRole('textbox', { name: 'Message' }).fill(`Tell me everything about the relaunch (${TAG})`);
    await alice.getByRole('button', { name: 'Send' }).click();
    await second.locator('.message.streaming').waitFor();
    await second.getByRole('button', { name: 'Cancel' }).click();
    for (const page of [alice, second]) {
      await page.locator('.message.assistant.cancelled').last().waitFor();
      await page.getByRole('button', { name: 'Send' }).waitFor();
    }
    await second.close();
  });

  step('publishes a post that the embed snippet shows on a page of another origin', async () => {
    await alice.getByRole('link', { name: 'Content', exact: true }).click();
    const title = `Browser post ${TAG}`;
    await alice.getByLabel('New item title').fill(title);
    await alice.getByRole('button', { name: 'Create draft' }).click();
    await alice.getByLabel('Markdown').fill(`Hello **embed**.\n\n<img src="x" onerror="alert(1)">`);
    await alice.getByRole('button', { name: 'Save', exact: true }).click();
    // The preview is the server's sanitised rendering.
    await alice.locator('.preview strong', { hasText: 'embed' }).waitFor();
    assert.equal(await alice.locator('.preview [onerror]').count(), 0);
    await alice.getByRole('button', { name: 'Publish' }).click();
    const snippet = await alice.locator('[data-embed-snippet]').textContent();
    assert.match(snippet, /embed\.js/);

    const site = createServer((_, res) => res.end(`<!doctype html><title>Another site</title><body>${snippet}</body>`));
    await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
    try {
      const page = await alice.context().newPage();
      await page.goto(`http://127.0.0.1:${site.address().port}/`);
      await page.locator('[data-strive-slug] h1', { hasText: title }).waitFor();
      assert.equal(await page.locator('[data-strive-slug] strong').textContent(), 'embed');
      assert.equal(await page.locator('[data-strive-slug] [onerror]').count(), 0);

      // Unpublished, it is gone on the next load.
      await alice.getByRole('button', { name: 'Unpublish' }).click();
      await alice.getByRole('button', { name: 'Publish' }).waitFor();
      await page.reload();
      await page.locator('[data-strive-error]').waitFor({ state: 'attached' });
      await page.close();
    } finally {
      site.close();
    }
  });

  step('shows a double booking its conflict', async () => {
    const bob = await person('bob@acme.test');
    await bob.getByRole('link', { name: 'Appointments', exact: true }).click();
    const book = async (title) => {
      await bob.getByLabel('Title').fill(title);
      await bob.getByLabel('From').fill('10:00');
      await bob.getByLabel('To').fill('10:30');
      await bob.getByLabel('Assignee').selectOption({ label: 'Bob Brown' });
      await bob.getByRole('button', { name: 'Book' }).click();
    };
    await book(`First call ${TAG}`);
    const first = bob.locator('.appointment', { hasText: `First call ${TAG}` });
    await first.waitFor();
    await book(`Second call ${TAG}`);
    await bob.getByRole('alert').filter({ hasText: 'already booked' }).waitFor();
    assert.match(
      await bob.getByRole('alert').filter({ hasText: 'already booked' }).textContent(),
      new RegExp(`First call ${TAG}`),
    );
    assert.match(await first.getAttribute('class'), /conflict/);
    await bob.context().close();
  });

  step('works at 375 px: every page fits, shows its data or its state, and says why when the API refuses', async () => {
    const narrow = await person('alice@acme.test', { width: 375 });
    for (const section of [
      'Projects',
      'Customers',
      'Assistant',
      'Content',
      'Appointments',
      'Members',
      'API keys',
      'Activity',
      'Billing',
    ]) {
      await narrow.getByRole('link', { name: section, exact: true }).click();
      await narrow.getByRole('heading', { level: 1 }).waitFor();
      await narrow.waitForFunction(() => !document.querySelector('[role="status"].state'));
      assert.equal(await narrow.getByRole('alert').count(), 0, `${section} shows an error`);
      const width = await narrow.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${section} is ${width} px wide`);
    }
    // Billing without Stripe: the problem's detail, and the dev way to change the plan.
    await narrow.getByRole('button', { name: 'Upgrade with Stripe Checkout' }).click();
    await narrow.getByRole('alert').filter({ hasText: 'STRIPE_SECRET_KEY' }).waitFor();
    await narrow.getByText('npm run stripe:event -- --org acme').waitFor();

    // An API key's secret is shown once.
    await narrow.getByRole('link', { name: 'API keys', exact: true }).click();
    await narrow.getByLabel('Key name').fill(`browser ${TAG}`);
    await narrow.getByRole('button', { name: 'Create key' }).click();
    assert.match(await narrow.locator('[data-secret]').textContent(), /^stk_/);
    await narrow.context().close();
  });
});

// The UI at fleet size (TestBrowserFleet: 10,000 simulated VMs, or
// FCMON_UI_FLEET_VMS): the overview first, the list's search, filters,
// sort and paging checked against the API answers the page received,
// the goals of a fleet UI measured in Chromium (first meaningful paint,
// long tasks during live updates, list and navigation latency, JS heap),
// an axe-core accessibility audit of each page, and a real event (real-1's
// guest agent stopped) in the overview and on the VM page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WAIT, control, env, launch, shot, skip, until } from './browser.mjs';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const N = Number(process.env.FCMON_UI_FLEET_VMS || 0);
// The goals (issue: fleet UI), and what make test asserts: the goals with
// a margin for a shared 2-core machine running the manager, 10,000
// simulated VMs and Chromium at once. make bench reports the figures.
const GOAL = { paintMs: 1000, longTaskMs: 100, listMs: 300, clickMs: 300, heapMB: 50 };
// With FCMON_UI_REPORT (make bench) the figures are reported, not judged.
const LIMIT = process.env.FCMON_UI_REPORT
  ? { paintMs: Infinity, longTaskMs: Infinity, listMs: Infinity, clickMs: Infinity, heapMB: Infinity }
  : { paintMs: 3000, longTaskMs: 300, listMs: 1200, clickMs: 1200, heapMB: 50 };
const figures = {};

describe(`fleet UI, ${N.toLocaleString('en')} VMs`, { skip: skip || (!N && 'run through TestBrowserFleet') }, () => {
  let b;
  before(async () => {
    b = await launch();
    // Long tasks from the start, kept by the page for the test to read.
    await b.page.addInitScript(() => {
      window.__long = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__long.push(e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
  });
  after(async () => {
    console.log(`fleet UI figures (goals ${JSON.stringify(GOAL)}): ${JSON.stringify(figures)}`);
    if (process.env.FCMON_UI_REPORT) writeFileSync(process.env.FCMON_UI_REPORT, JSON.stringify({ vms: N, ...figures }));
    await shot(b.page, 'fleet-final');
    await b.context.close();
  });

  const api = async (p) => {
    const res = await fetch(new URL(p, env.url), { signal: AbortSignal.timeout(WAIT) });
    assert.equal(res.status, 200, `GET ${p}`);
    return res.json();
  };
  const renders = () => b.page.locator('#main').evaluate((el) => Number(el.dataset.renders || 0));
  const rowNames = () => b.page.locator('table.vms tbody th a').allTextContents();
  // act runs action and waits for the list's next render of the answer to
  // a GET /v1/vms whose query matches want; it returns the answer and the
  // milliseconds from the action to the render.
  const listAction = async (want, action) => {
    const { page } = b;
    const before = await renders();
    const response = page.waitForResponse((r) => r.url().includes('/v1/vms?') && want.test(r.url()));
    const t0 = Date.now();
    await action();
    // Polled at each animation frame: the time is the page's, not a
    // polling interval's.
    await page.waitForFunction((n) => Number(document.getElementById('main').dataset.renders || 0) > n, before, { polling: 'raf' });
    const ms = Date.now() - t0;
    return { body: await (await response).json(), ms };
  };
  const audit = async (name) => {
    // Evaluated through the debugger: the manager's CSP rightly refuses
    // an injected script tag.
    await b.page.evaluate(AXE_SOURCE);
    const res = await b.page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const found = res.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0]?.target}`);
    figures[`axe_${name}`] = found.length;
    assert.deepEqual(found, [], `axe-core finds problems on the ${name}`);
  };

  test('the overview paints the fleet within the goal', async () => {
    const { page } = b;
    await page.goto(env.url);
    await page.getByRole('heading', { name: 'Fleet', level: 1 }).waitFor();
    figures.paintMs = Math.round(await page.evaluate(() => performance.getEntriesByName('fcmon:overview')[0]?.startTime ?? -1));
    assert.ok(figures.paintMs > 0 && figures.paintMs <= LIMIT.paintMs, `overview painted after ${figures.paintMs} ms`);
    // What the paint waited for: the page, its scripts, GET /v1/fleet.
    const timing = await page.evaluate(() => ({
      html: performance.getEntriesByType('navigation')[0]?.responseEnd,
      fleet: performance.getEntriesByType('resource').find((r) => r.name.endsWith('/v1/fleet')),
    }));
    figures.htmlMs = Math.round(timing.html);
    figures.fleetRequestMs = Math.round(timing.fleet?.responseEnd - timing.fleet?.startTime);
    figures.fleetRequestStartMs = Math.round(timing.fleet?.startTime);
    const fleet = await api('/v1/fleet');
    const count = async (card, label) => (await page.getByRole('region', { name: card }).getByRole('link', { name: label }).textContent()).replace(label, '');
    assert.equal(Number((await count('By state', 'Live')).replaceAll(',', '')), fleet.by_state.live);
    assert.equal(Number((await count('CPU figures from', 'vCPU threads')).replaceAll(',', '')), N / 10);
    assert.equal(Number((await count('CPU figures from', 'Host fallback (VMM process)')).replaceAll(',', '')), N / 50);
    assert.equal(Number((await count('Memory figures from', 'Balloon')).replaceAll(',', '')), N / 10);
    assert.equal(await page.getByRole('table', { name: 'Highest CPU' }).getByRole('row').count(), 1 + 10);
    await page.getByRole('table', { name: 'Host agents' }).getByRole('link').first().waitFor();
    await shot(page, 'fleet-overview');
    if (env.docs) copyFileSync(await shot(page, 'fleet-overview'), path.join(env.docs, 'ui-overview.png'));
  });

  test('20 s of live overview: summaries arrive, no long task', async () => {
    const { page } = b;
    await page.evaluate(() => { window.__long = []; });
    const before = await renders();
    await page.waitForTimeout(20000);
    const got = await renders();
    assert.ok(got - before >= 5, `the overview rendered ${got - before} summaries in 20 s`);
    const long = await page.evaluate(() => window.__long);
    figures.overviewLongestTaskMs = Math.round(Math.max(0, ...long));
    figures.overviewLongTasks = long.length;
    assert.ok(figures.overviewLongestTaskMs <= LIMIT.longTaskMs, `longest task ${figures.overviewLongestTaskMs} ms`);
  });

  test('the overview passes the accessibility audit', () => audit('overview'));

  test('the list: one page of the API, search, filter, sort, paging, in the URL', async () => {
    const { page } = b;
    let r = await listAction(/limit=50/, () => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'VMs' }).click());
    figures.listOpenMs = r.ms;
    assert.equal(r.body.total, N + 1);
    assert.deepEqual(await rowNames(), r.body.vms.map((v) => v.name));
    assert.equal(await page.locator('table.vms tbody tr').count(), 50, 'the page holds 50 rows, not the fleet');

    r = await listAction(/q=vm-123/, () => page.getByLabel('Search').fill('vm-123'));
    figures.searchMs = r.ms - 150; // less the typing pause the box waits for
    assert.deepEqual(await rowNames(), r.body.vms.map((v) => v.name));
    assert.ok(r.body.vms.every((v) => v.name.includes('vm-123')) && r.body.total === (N >= 12400 ? 111 : N > 1239 ? 11 : 1), `search total ${r.body.total}`);
    assert.match(page.url(), /#\/vms\?q=vm-123$/);

    await listAction(/limit=50&offset=0&sort=name&order=asc$/, () => page.getByLabel('Search').fill(''));
    r = await listAction(/source=vcpu/, () => page.getByLabel('Source').selectOption('vcpu'));
    figures.filterMs = r.ms;
    assert.equal(r.body.total, N / 10);
    assert.deepEqual(await rowNames(), r.body.vms.map((v) => v.name));
    await page.locator('.count').filter({ hasText: `1–50 of ${(N / 10).toLocaleString('en')} VMs` }).waitFor();
    assert.ok(r.body.vms.every((v) => v.latest.source === 'vcpu' && v.latest.memory_source === 'balloon'));

    r = await listAction(/sort=cpu&order=desc/, () => page.getByRole('button', { name: /^CPU: sort/ }).click());
    figures.sortMs = r.ms;
    assert.deepEqual(await rowNames(), r.body.vms.map((v) => v.name));
    const cpus = r.body.vms.map((v) => v.latest.cpu_usage_percent);
    assert.deepEqual(cpus, [...cpus].sort((x, y) => y - x), 'the API sorted by CPU, highest first');
    assert.equal(await page.locator('th[aria-sort="descending"]').textContent(), 'CPU');

    r = await listAction(/offset=50/, () => page.getByRole('button', { name: 'Next →' }).click());
    figures.pageMs = r.ms;
    assert.deepEqual(await rowNames(), r.body.vms.map((v) => v.name));
    assert.match(page.url(), /source=vcpu&sort=cpu&offset=50$/);
    await page.locator('.pager .where').filter({ hasText: `Page 2 of ${Math.ceil(N / 10 / 50).toLocaleString('en')}` }).waitFor();

    r = await listAction(/sort=cpu&order=desc&source=vcpu$|source=vcpu.*offset=0/, () => page.goBack());
    assert.equal(r.body.offset, 0, 'the back button shows the first page again');
    assert.match(page.url(), /#\/vms\?source=vcpu&sort=cpu$/);
    for (const k of ['listOpenMs', 'searchMs', 'filterMs', 'sortMs', 'pageMs']) {
      assert.ok(figures[k] <= LIMIT.listMs, `${k} ${figures[k]} ms`);
    }
  });

  test('10 s of the live list: sparklines fill, no long task', async () => {
    const { page } = b;
    // By name, the rows stay while their sparklines fill (by live CPU the
    // page changes at every reload).
    await listAction(/sort=name&order=asc&source=vcpu/, () => page.getByRole('button', { name: /^Name: sort/ }).click());
    await page.evaluate(() => { window.__long = []; });
    await page.waitForTimeout(10000);
    const long = await page.evaluate(() => window.__long);
    figures.listLongestTaskMs = Math.round(Math.max(0, ...long));
    assert.ok(figures.listLongestTaskMs <= LIMIT.longTaskMs, `longest task ${figures.listLongestTaskMs} ms`);
    const most = await page.locator('svg.sparkline polyline').evaluateAll((els) =>
      Math.max(0, ...els.map((e) => (e.getAttribute('points') || '').split(' ').filter(Boolean).length)));
    assert.ok(most >= 7, `the longest sparkline has ${most} points after 10 s`);
  });

  test('the list passes the accessibility audit', () => audit('list'));

  test('a click shows the VM page within the goal; the heap stays small', async () => {
    const { page } = b;
    const link = page.locator('table.vms tbody th a').first();
    const name = await link.textContent();
    const t0 = Date.now();
    await link.click();
    await page.waitForFunction((n) => document.querySelector('#main h1')?.textContent === n, name, { polling: 'raf' });
    figures.clickMs = Date.now() - t0;
    assert.ok(figures.clickMs <= LIMIT.clickMs, `VM page after ${figures.clickMs} ms`);
    await page.locator('.plot[data-drawn="true"]').first().waitFor();
    await page.getByRole('link', { name: /^[0-9a-f-]{36}$/ }).waitFor(); // the link to its host agent's VMs
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    figures.heapMB = Math.round(usedSize / 1e5) / 10;
    assert.ok(figures.heapMB <= LIMIT.heapMB, `JS heap ${figures.heapMB} MB`);
    await audit('VM page');
    if (env.docs) { // let the live charts fill for the README's picture
      await page.waitForTimeout(20000);
      copyFileSync(await shot(page, 'fleet-vm-page'), path.join(env.docs, 'ui-vm-page.png'));
    }
  });

  test('a real event shows in the overview and on the VM page', async () => {
    const { page } = b;
    const [real] = (await api('/v1/vms?q=real-1')).vms;
    await page.goto(env.url);
    await page.getByRole('heading', { name: 'Fleet', level: 1 }).waitFor();
    await control('stop');
    const item = page.getByRole('list', { name: 'Latest events' }).getByRole('listitem')
      .filter({ has: page.getByRole('link', { name: real.id.slice(0, 8) }) }).filter({ hasText: 'source changed' });
    await item.waitFor({ timeout: 20000 });
    await item.getByRole('link').click();
    await page.getByRole('heading', { name: 'real-1', level: 1 }).waitFor();
    // The VM page reads its events from the store, which holds a streamed
    // event within a second, and again every 5 s.
    await until(async () => Number(await page.locator('.plot').first().getAttribute('data-events')) >= 1, 2 * WAIT, 'the event on the CPU chart\'s timeline');
    await page.getByRole('tab', { name: 'Events' }).click();
    await page.locator('.events li', { hasText: 'source changed' }).first().waitFor();
    await shot(page, 'fleet-event');
  });

  test('has no script errors', () => {
    assert.deepEqual(b.problems, []);
  });
});

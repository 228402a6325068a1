// The metrics tab of a VM: five charts that move every second, their
// source badges, the jailed VMM's throttling and cgroup memory, through a guest agent's stop and return, the ranges, and
// the guest-IP form's error. Its last screenshot is the one in docs/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { WAIT, control, env, launch, shot, skip, until } from './browser.mjs';

const CHARTS = ['CPU', 'CPU throttling', 'Memory', 'Network', 'Disk'];
const SCREENSHOT_FILL_MS = 90000;

describe('metrics tab', { skip }, () => {
  let b;
  const chart = (name) => b.page.getByRole('region', { name, exact: true });
  const badge = (name) => chart(name).locator('.source');
  const lastTs = (name) => chart(name).locator('.plot').getAttribute('data-last-ts').then(Number);

  before(async () => {
    b = await launch();
    await b.page.goto(`${env.url}#/vms`);
    await b.page.getByRole('link', { name: 'web-1', exact: true }).click();
    await b.page.getByRole('heading', { level: 1, name: 'web-1' }).waitFor();
  });
  after(async () => {
    // For docs/ (go test -update), let the live charts fill for a while.
    if (env.screenshot) await new Promise((r) => setTimeout(r, SCREENSHOT_FILL_MS));
    const file = await shot(b.page, 'metrics-tab');
    if (env.screenshot) copyFileSync(file, env.screenshot);
    await b.context.close();
  });

  test('draws five charts whose points move within 3 s', async () => {
    for (const name of CHARTS) {
      await chart(name).locator('.plot[data-drawn="true"]').waitFor();
      await until(async () => (await lastTs(name)) > 0, WAIT, `${name} chart has a point`);
    }
    const first = await Promise.all(CHARTS.map(lastTs));
    const began = Date.now();
    for (const [i, name] of CHARTS.entries()) {
      await until(async () => (await lastTs(name)) > first[i], Math.max(0, 3000 - (Date.now() - began)) + 1, `${name} chart moves`);
    }
    for (const name of CHARTS) {
      const points = Number(await chart(name).locator('.plot').getAttribute('data-points'));
      assert.ok(points >= 2, `${name}: ${points} points drawn`);
      await chart(name).locator('canvas').first().waitFor();
    }
  });

  test("shows the guest clock against the host's", async () => {
    const dd = b.page.locator('dl.facts dt', { hasText: 'Guest clock' }).locator('xpath=following-sibling::dd[1]');
    await dd.filter({ hasText: /^\d+\.\d s (ahead of|behind) the host$/ }).waitFor();
  });

  test('names each chart\'s source, with human units', async () => {
    await badge('CPU').filter({ hasText: 'inside the guest' }).waitFor();
    await badge('Memory').filter({ hasText: 'inside the guest' }).waitFor();
    await badge('Network').filter({ hasText: 'Firecracker' }).waitFor();
    await badge('Disk').filter({ hasText: 'Firecracker' }).waitFor();
    await chart('CPU').locator('.now').filter({ hasText: / %$/ }).waitFor();
    await chart('Memory').locator('.now').filter({ hasText: env.noCgroup ? /^\d+(\.\d+)? [MG]iB of 23\.5 GiB$/
      : /^\d+(\.\d+)? [MG]iB of 23\.5 GiB · cgroup \d+(\.\d+)? (B|KiB|MiB) of 256 MiB limit$/ }).waitFor();
    await chart('Network').locator('.now').filter({ hasText: /^rx .*iB\/s · tx .*iB\/s$/ }).waitFor();
  });

  test("shows the jailed VMM's throttling and its cgroup's memory limit", { skip: env.noCgroup || false }, async () => {
    // Its busy VMM against a quota of a tenth of a core: throttled in
    // nearly every period.
    await badge('CPU throttling').filter({ hasText: "the VMM's cgroup" }).waitFor({ timeout: WAIT });
    const now = chart('CPU throttling').locator('.now');
    await now.filter({ hasText: /^\d+(\.\d)? % of quota periods throttled · quota 0\.1 cores$/ }).waitFor({ timeout: WAIT });
    const last = async (name) => (await chart(name).locator('.plot').getAttribute('data-last')).split(',');
    await until(async () => Number((await last('CPU throttling'))[0]) >= 50, WAIT, 'the chart shows most periods throttled');
    assert.ok(parseFloat(await now.textContent()) >= 50, await now.textContent());
    // The memory chart's cgroup lines: its use and its 256 MiB limit.
    await until(async () => (await last('Memory'))[3] === String(256 * 1024 * 1024), WAIT, 'the memory chart draws the cgroup limit');
    assert.ok(Number((await last('Memory'))[2]) > 0, 'the cgroup memory in use is drawn');
    await chart('CPU throttling').scrollIntoViewIfNeeded();
    await shot(b.page, 'metrics-throttling');
  });

  test('switches to host fallback when the guest agent stops, and back', async () => {
    const { page } = b;
    await control('stop');
    await badge('CPU').filter({ hasText: 'host fallback' }).waitFor({ timeout: WAIT });
    await badge('Memory').filter({ hasText: 'host fallback' }).waitFor();
    assert.equal(await badge('Network').textContent(), 'Firecracker');
    await page.locator('.page-head .pill', { hasText: 'host fallback' }).waitFor();
    await shot(page, 'metrics-host-fallback');

    const { ip, port } = await control('start');
    const form = page.getByRole('form', { name: 'Guest agent address' });
    await form.getByLabel('Guest IP').fill(ip);
    await form.getByLabel('Port').fill(String(port));
    await form.getByLabel('Port').press('Enter');
    await form.getByRole('status').filter({ hasText: `${ip}:${port}` }).waitFor();
    await badge('CPU').filter({ hasText: 'inside the guest' }).waitFor({ timeout: WAIT });
    await badge('Memory').filter({ hasText: 'inside the guest' }).waitFor();
  });

  test('lists the VM\'s events: the source changes of the stop and the return', async () => {
    const { page } = b;
    await page.getByRole('tab', { name: 'Events' }).click();
    const panel = page.getByRole('tabpanel', { name: 'Events' });
    await panel.locator('li.event-source_change', { hasText: 'CPU now from host (was guest)' }).waitFor({ timeout: WAIT });
    await panel.locator('li.event-source_change', { hasText: 'CPU now from guest (was host)' }).waitFor({ timeout: WAIT });
    await shot(page, 'events-tab');
    await page.getByRole('tab', { name: 'Metrics' }).click();
  });

  test('the guest-IP form shows the API\'s error for 169.254.169.254', async () => {
    const form = b.page.getByRole('form', { name: 'Guest agent address' });
    const input = form.getByLabel('Guest IP');
    const before = await input.inputValue();
    await input.fill('169.254.169.254');
    await input.press('Enter');
    const error = form.locator('#guest-ip-error');
    await error.filter({ hasText: /^guest_ip 169\.254\.169\.254 is the instance metadata service .* it is never contacted$/ }).waitFor();
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    await shot(b.page, 'guest-ip-error');
    await input.fill(before);
    await input.press('Enter');
    await form.getByRole('status').filter({ hasText: before }).waitFor();
    assert.equal(await error.textContent(), '');
  });

  test('loads the longer ranges from the history', async () => {
    const { page } = b;
    for (const label of ['1 h', '24 h', '7 d', '5 min (live)']) {
      await page.getByRole('radio', { name: label }).check();
      await page.locator('.range-note', { hasText: label === '5 min (live)' ? 'Live:' : `${label}:` }).waitFor();
      await until(async () => Number(await chart('CPU').locator('.plot').getAttribute('data-points')) > 0, WAIT, `${label} has points`);
    }
    const ts = await lastTs('CPU');
    await until(async () => (await lastTs('CPU')) > ts, 3000, 'live again after the ranges');
  });

  test('has no script errors', () => {
    assert.deepEqual(b.problems, []);
  });
});

// The usage page: per label value and per VM, the figures the API gives,
// sorting by a column, a custom period, and a CSV download that is the
// API's CSV byte for byte.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WAIT, env, launch, shot, skip, until } from './browser.mjs';

const COLUMNS = 'vm_id,vm_name,value,vcpu_seconds_used,vcpu_seconds_allocated,memory_gib_seconds_allocated,'
  + 'memory_gib_seconds_used,network_bytes,disk_bytes,source,seconds';
// The minutes stored once the manager has run this long, at most.
const ROLLUPS_WAIT = 150000;

describe('usage page', { skip }, () => {
  let b;
  // A period of whole minutes that ended at least 15 s ago: its rollups are
  // all written (the history writes every 10 s), so the answer stays put.
  let since;
  let till;
  const table = () => b.page.getByRole('table', { name: 'Usage' });
  const rowHeads = async () => table().locator('tbody th').allTextContents();
  const api = async (query) => {
    const res = await fetch(`${env.url}v1/usage?${query}`);
    assert.equal(res.status, 200, `GET /v1/usage?${query}`);
    return res;
  };

  before(async () => {
    b = await launch();
    // The VMs' first whole minutes: wait until both polled VMs have some.
    await until(async () => {
      till = Math.floor((Date.now() - 15000) / 60000) * 60000;
      since = till - 3600e3;
      const { rows } = await (await api(`since=${since}&until=${till}`)).json();
      return ['web-1', 'batch-2'].every((n) => rows.some((r) => r.vm_name === n && r.seconds > 0));
    }, ROLLUPS_WAIT, 'a stored minute of web-1 and batch-2');
  });
  after(async () => {
    await shot(b.page, 'usage-final');
    await b.context.close();
  });

  test('per tenant, the rows and figures are the API\'s', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/usage?since=${since}&until=${till}&group_by=label%3Atenant`);
    await until(async () => (await rowHeads()).includes('acme'), WAIT, 'the acme row');
    await table().getByRole('columnheader', { name: /^tenant/ }).waitFor();
    const want = await (await api(`since=${since}&until=${till}&group_by=label:tenant`)).json();
    const acme = want.rows.find((r) => r.value === 'acme' && !r.missing);
    assert.ok(acme.vcpu_seconds_allocated > 0, JSON.stringify(acme));
    const row = table().getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'acme', exact: true }) });
    const cells = await row.locator('td').allTextContents();
    const fmt = (v) => v.toLocaleString('en', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
    assert.deepEqual(cells.slice(0, 4), [fmt(acme.vcpu_seconds_used), fmt(acme.vcpu_seconds_allocated),
      fmt(acme.memory_gib_seconds_used), fmt(acme.memory_gib_seconds_allocated)]);
    assert.equal(cells[cells.length - 1], acme.source);
    assert.equal((await rowHeads()).length, want.rows.length);
    // The custom period is the one in the URL.
    assert.ok(await page.getByRole('radio', { name: 'Custom' }).isChecked());
    await shot(page, 'usage-tenant');
  });

  test('sorts by a column, both ways, and keeps it in the URL', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/usage?since=${since}&until=${till}`);
    await until(async () => (await rowHeads()).includes('web-1'), WAIT, 'the VM rows');
    const column = async () => (await table().locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.cells[2].textContent)))
      .map((t) => Number(t.replace(/,/g, '')));
    await table().getByRole('link', { name: /^vCPU-s allocated: sort descending$/ }).click();
    await until(async () => /sort=vcpu_seconds_allocated&order=desc/.test(page.url()), WAIT, 'the sort in the URL');
    await table().locator('th[aria-sort="descending"]', { hasText: 'vCPU-s allocated' }).waitFor();
    const down = await column();
    assert.deepEqual(down, [...down].sort((x, y) => y - x));
    await table().getByRole('link', { name: /^vCPU-s allocated: sort ascending$/ }).click();
    await table().locator('th[aria-sort="ascending"]', { hasText: 'vCPU-s allocated' }).waitFor();
    const up = await column();
    assert.deepEqual(up, [...up].sort((x, y) => x - y));
    assert.deepEqual(up, [...down].reverse());
  });

  test('downloads exactly the API\'s CSV', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/usage?since=${since}&until=${till}&group_by=label%3Atier`);
    await until(async () => (await rowHeads()).includes('web'), WAIT, 'the tier rows');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const got = readFileSync(await download.path(), 'utf8');
    const want = await (await api(`since=${since}&until=${till}&group_by=label:tier&format=csv`)).text();
    assert.equal(got, want);
    const lines = got.trimEnd().split('\n');
    assert.equal(lines[0], COLUMNS);
    assert.equal(lines.length - 1, (await rowHeads()).length, 'a CSV row per table row');
    assert.match(download.suggestedFilename(), /^fcmon-usage-\d+-\d+\.csv$/);
  });

  test('a custom period from the form; a start after its end is refused', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/usage`);
    await page.getByRole('radio', { name: 'Custom' }).check();
    const local = (ms) => {
      const d = new Date(ms);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    };
    await page.getByLabel('From', { exact: true }).fill(local(till));
    await page.getByLabel('To', { exact: true }).fill(local(since));
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('alert').filter({ hasText: 'Give a start before the end.' }).waitFor();
    await page.getByLabel('From', { exact: true }).fill(local(since));
    await page.getByLabel('To', { exact: true }).fill(local(till));
    await page.getByRole('button', { name: 'Show' }).click();
    await until(async () => page.url().includes(`since=${since}&until=${till}`), WAIT, 'the period in the URL');
    await until(async () => (await rowHeads()).includes('web-1'), WAIT, 'the VM rows of the period');
  });

  test('a label filter of several terms, typed or in the URL, selects the VMs with all of them', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/usage?since=${since}&until=${till}&label=tenant%3Dacme&label=tier%3Dweb`);
    await until(async () => (await rowHeads()).join() === 'web-1', WAIT, 'only web-1');
    assert.equal(await page.getByLabel('Only VMs with labels').inputValue(), 'tenant=acme tier=web');
    await page.getByLabel('Only VMs with labels').fill('tenant=acme  tier!=web');
    await page.getByRole('button', { name: 'Show' }).click();
    await until(async () => (await rowHeads()).join() === 'batch-2', WAIT, 'only batch-2');
    const q = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
    assert.deepEqual(q.getAll('label'), ['tenant=acme', 'tier!=web']);
  });

  test('has no script errors', () => {
    assert.deepEqual(b.problems, []);
  });
});

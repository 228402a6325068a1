// Labels: chips on the rows and the VM page, the list's label filter kept
// in its URL, and the overview grouped by a label.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, env, launch, shot, skip, until } from './browser.mjs';

describe('labels', { skip }, () => {
  let b;
  before(async () => {
    b = await launch();
  });
  after(async () => {
    await shot(b.page, 'labels-final');
    await b.context.close();
  });

  const names = async (page) => {
    const table = page.getByRole('table', { name: 'Virtual machines' });
    await table.waitFor();
    return (await table.locator('tbody th a[href^="#/vms/"]').allTextContents()).sort();
  };

  test('a label filter in the URL shows the VMs with that label, with their chips', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/vms?label=tier%3Dweb`);
    await until(async () => (await names(page)).join() === 'web-1', WAIT, 'only web-1 listed');
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'web-1', exact: true }) });
    await row.getByRole('link', { name: 'tier=web' }).waitFor();
    await row.getByRole('link', { name: 'tenant=acme' }).waitFor();
    assert.equal(await page.getByLabel('Labels').inputValue(), 'tier=web');
    await shot(page, 'labels-filtered');
  });

  test('typing terms filters the list and keeps them in the URL', async () => {
    const { page } = b;
    const input = page.getByLabel('Labels');
    await input.fill('tenant=acme tier!=web');
    await input.press('Enter');
    await until(async () => (await names(page)).join() === 'batch-2', WAIT, 'only batch-2 listed');
    const q = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
    assert.deepEqual(q.getAll('label'), ['tenant=acme', 'tier!=web']);
    await input.fill('!tenant');
    await input.press('Enter');
    await until(async () => {
      const n = await names(page);
      return n.includes('spare-3') && !n.includes('web-1') && !n.includes('batch-2');
    }, WAIT, 'the VMs without a tenant');
  });

  test('a chip lists the VMs sharing that label', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/vms`);
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'batch-2', exact: true }) });
    await row.getByRole('link', { name: 'tenant=acme' }).click();
    await until(async () => (await names(page)).join() === 'batch-2,web-1', WAIT, 'the acme VMs');
    assert.match(page.url(), /label=tenant%3Dacme/);
  });

  test('the VM page shows its labels', async () => {
    const { page } = b;
    await page.getByRole('link', { name: 'web-1', exact: true }).click();
    const chips = page.getByLabel('Labels');
    await chips.getByRole('link', { name: 'tier=web' }).waitFor();
  });

  test('the overview groups the fleet by a label', async () => {
    const { page } = b;
    await page.goto(`${env.url}#/`);
    const input = page.getByLabel('Group by label');
    await input.fill('tenant');
    await input.press('Enter');
    const table = page.getByRole('table', { name: 'VMs by label' });
    await table.waitFor();
    const acme = table.getByRole('row').filter({ has: page.getByRole('link', { name: 'acme', exact: true }) });
    await until(async () => (await acme.locator('td').first().textContent()) === '2', WAIT, 'acme has 2 VMs');
    await table.getByRole('row').filter({ hasText: 'no tenant' }).waitFor();
    assert.match(page.url(), /#\/\?group_by=tenant$/);
    await shot(page, 'labels-overview');
  });
});

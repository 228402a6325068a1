// The VM list: the VMs with their status and live figures, and the
// registration form with the API's errors beside the fields.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, env, launch, shot, skip, until } from './browser.mjs';

describe('VM list', { skip }, () => {
  let b;
  before(async () => {
    b = await launch();
    await b.page.goto(`${env.url}#/vms`);
  });
  after(async () => {
    await shot(b.page, 'list-final');
    await b.context.close();
  });

  test('shows every VM with its status', async () => {
    const { page } = b;
    const table = page.getByRole('table', { name: 'Virtual machines' });
    for (const name of ['web-1', 'batch-2', 'spare-3']) {
      await table.getByRole('link', { name, exact: true }).waitFor();
    }
    const row = (name) => table.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) });
    await row('web-1').locator('.pill', { hasText: 'guest agent' }).waitFor();
    await row('batch-2').locator('.pill', { hasText: 'host fallback' }).waitFor();
    await row('batch-2').locator('.reason', { hasText: 'no guest IP set' }).waitFor();
    await row('spare-3').locator('.pill', { hasText: 'offline' }).waitFor();
    await row('spare-3').locator('.reason', { hasText: 'no host agent · stale' }).waitFor();
    await shot(page, 'list');
  });

  test('updates figures live, in human units', async () => {
    const { page } = b;
    const cells = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'web-1', exact: true }) }).locator('td.num');
    await cells.nth(0).filter({ hasText: / %$/ }).waitFor();
    await cells.nth(2).filter({ hasText: /[KM]iB\/s/ }).waitFor();
    const text = async () => (await cells.allTextContents()).join(' | ');
    const first = await text();
    await until(async () => (await text()) !== first, WAIT, 'web-1 figures change');
  });

  test('registers a VM, and shows the API error beside the field', async () => {
    const { page } = b;
    const form = page.getByRole('form', { name: 'Register a VM' });
    await form.getByLabel('Name').fill('from-the-page');
    await form.getByLabel('Guest IP').fill('169.254.169.254');
    await form.getByLabel('Guest IP').press('Enter');
    const error = form.locator('#reg-guest-ip-error');
    await error.filter({ hasText: 'guest_ip 169.254.169.254 is the instance metadata service' }).waitFor();
    assert.equal(await form.getByLabel('Guest IP').getAttribute('aria-invalid'), 'true');
    await shot(page, 'register-error');

    await form.getByLabel('Guest IP').fill('');
    await form.getByLabel('Name').press('Enter');
    await form.getByRole('status').filter({ hasText: 'Registered from-the-page' }).waitFor();
    assert.equal(await error.textContent(), '');
    await page.getByRole('table', { name: 'Virtual machines' }).getByRole('link', { name: 'from-the-page' }).waitFor();
  });

  test('has no script errors', () => {
    assert.deepEqual(b.problems, []);
  });
});

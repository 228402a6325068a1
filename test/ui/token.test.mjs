// The token prompt of a manager started with --api-token: the page asks,
// refuses a wrong token with an error, accepts the right one, keeps it for
// the tab, and streams live figures with it (the WebSocket's subprotocol).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, env, launch, shot, skip } from './browser.mjs';

describe('token prompt', { skip }, () => {
  let b;
  before(async () => {
    b = await launch('dark');
    await b.page.goto(`${env.tokenUrl}#/vms`);
  });
  after(async () => {
    await shot(b.page, 'token-final');
    await b.context.close();
  });

  test('asks for the token and refuses a wrong one', async () => {
    const { page } = b;
    const dialog = page.getByRole('dialog', { name: 'API token required' });
    await dialog.waitFor();
    const input = dialog.getByLabel('API token');
    assert.ok(await input.evaluate((el) => el === document.activeElement), 'the token field has the focus');
    await input.fill('not-the-token');
    await input.press('Enter');
    await dialog.getByRole('alert').filter({ hasText: 'refused this token' }).waitFor();
    assert.ok(await dialog.isVisible());
    await shot(page, 'token-wrong');
  });

  test('accepts the right token, then lists the VMs live', async () => {
    const { page } = b;
    const dialog = page.getByRole('dialog', { name: 'API token required' });
    await dialog.getByLabel('API token').fill(env.token);
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const table = page.getByRole('table', { name: 'Virtual machines' });
    await table.getByRole('link', { name: 'secure-1', exact: true }).waitFor();
    await table.locator('td.num', { hasText: / %$/ }).first().waitFor();
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('fcmon.token')), env.token);
  });

  test('keeps the token for the tab', async () => {
    const { page } = b;
    await page.reload();
    await page.getByRole('link', { name: 'secure-1', exact: true }).waitFor();
    assert.equal(await page.getByRole('dialog').count(), 0);
  });
});

describe('a read token', { skip }, () => {
  let b;
  before(async () => {
    b = await launch('light');
    await b.page.goto(`${env.tokenUrl}#/vms`);
  });
  after(async () => {
    await shot(b.page, 'token-read');
    await b.context.close();
  });

  test('signs in, reads, and is offered no write forms', async () => {
    const { page } = b;
    const dialog = page.getByRole('dialog', { name: 'API token required' });
    await dialog.getByLabel('API token').fill(env.readToken);
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const table = page.getByRole('table', { name: 'Virtual machines' });
    await table.getByRole('link', { name: 'secure-1', exact: true }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('fcmon.role')), 'read');
    assert.equal(await page.getByRole('heading', { name: 'Register a VM' }).count(), 0, 'no register form for a read token');
    await table.getByRole('link', { name: 'secure-1', exact: true }).click();
    await page.getByRole('tablist', { name: 'VM views' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Guest agent address' }).count(), 0, 'no guest address form for a read token');
  });
});

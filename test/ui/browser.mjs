// Shared by the browser tests: Debian's Chromium through playwright-core
// (from web/node_modules; never a downloaded browser), a fresh profile per
// launch, bounded waits, and a screenshot in test-artifacts/ui for every
// test, failed or not.

import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const env = {
  url: process.env.FCMON_UI_URL,
  tokenUrl: process.env.FCMON_UI_TOKEN_URL,
  token: process.env.FCMON_UI_TOKEN,
  readToken: process.env.FCMON_UI_READ_TOKEN,
  control: process.env.FCMON_UI_CONTROL,
  artifacts: process.env.FCMON_UI_ARTIFACTS,
  screenshot: process.env.FCMON_UI_SCREENSHOT,
  profiles: process.env.FCMON_UI_PROFILE_DIR,
  docs: process.env.FCMON_UI_DOCS,
  // Why web-1's VMM is in no cgroup of its own here, or '' (it is).
  noCgroup: process.env.FCMON_UI_NO_CGROUP || '',
};

/** skip is why these tests cannot run on their own, or false. */
export const skip = env.url ? false : 'run through `go test ./test/ui`, which starts the manager and agents';

// WAIT bounds every wait for the page; the UI moves every second.
export const WAIT = 8000;

/** launch starts Chromium with a fresh profile; close it in an after hook. */
export async function launch(colorScheme = 'light') {
  const dir = mkdtempSync(path.join(env.profiles, 'chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
    viewport: { width: 1366, height: 900 },
    colorScheme,
    timeout: 30000,
  });
  context.setDefaultTimeout(WAIT);
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // The browser logs every 4xx answer; the tests cause 400s on purpose
    // (the API's validation) and 401s (the token prompt).
    if (msg.type() === 'error' && !/Failed to load resource: .* status of 40[01]/.test(msg.text())) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  return { context, page, problems };
}

/** shot saves a full-page screenshot as test-artifacts/ui/<name>.png. */
export async function shot(page, name) {
  const file = path.join(env.artifacts, `${name.replace(/[^a-z0-9-]+/gi, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: WAIT }).catch(() => {});
  return file;
}

/** control asks the Go test to stop or start web-1's guest agent. */
export async function control(what) {
  const res = await fetch(`${env.control}/guest/${what}`, { method: 'POST', signal: AbortSignal.timeout(20000) });
  if (!res.ok) throw new Error(`control ${what}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

/** attr polls fn until it returns a truthy value, at most ms. */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

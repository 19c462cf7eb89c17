// Helpers of consoles.test.mjs: a real `relais` server with a test configuration, tokens minted
// by `relais token`, console pages opened with their token, screenshots and media checks.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { startListening, targetDir, waitFor, sleep } from './browsers.mjs';

const run = promisify(execFile);

export const MEDIA_IP = process.env.E2E_MEDIA_IP || '127.0.0.1';
export const ARTIFACTS = resolve(import.meta.dirname, '..', 'artifacts', 'consoles');

/// Services of the test server: one per scenario so that each test reads its own tile, plus a
/// closed one (an empty opening-hours table) that kiosks show as closed.
const CONFIG = ({ dataDir }) => `
data_dir = "${dataDir}"

[http]
listen = "127.0.0.1:0"

[log]
level = "warn"

[auth]
secret = "consoles-test-secret-0123456789"
development = false

[media]
shards = 1
port = 0
bind = "${MEDIA_IP}"

[[services]]
id = "caf"
name = "CAF — allocations familiales"
name_en = "CAF — family allowances"
offer_timeout_secs = 8
wrap_up_secs = 4
[[services.skills]]
skill = "caf"
min_proficiency = 1

[[services]]
id = "cpam"
name = "Assurance maladie (CPAM)"
name_en = "Health insurance (CPAM)"
offer_timeout_secs = 8
wrap_up_secs = 2
[[services.skills]]
skill = "cpam"
min_proficiency = 1

[[services]]
id = "ants"
name = "ANTS — titres sécurisés"
name_en = "ANTS — identity cards and passports"
offer_timeout_secs = 8
wrap_up_secs = 2
[[services.skills]]
skill = "ants"
min_proficiency = 1

[[services]]
id = "mairie"
name = "Accueil de la mairie"
offer_timeout_secs = 8
wrap_up_secs = 2
[[services.skills]]
skill = "mairie"
min_proficiency = 1

[[services]]
id = "urssaf"
name = "URSSAF"
name_en = "URSSAF"
[services.hours]
`;

/// `extraConfig`: TOML appended to the test configuration (more `[[services]]`, say); `env`:
/// `RELAIS_…` overrides of keys the configuration already has a section for.
export async function startServer({ extraConfig = '', env = {} } = {}) {
  const bin = process.env.E2E_RELAIS_BIN || join(targetDir(), 'debug', 'relais');
  const dir = await mkdtemp(join(tmpdir(), 'relais-consoles-'));
  const config = join(dir, 'relais.toml');
  await writeFile(config, CONFIG({ dataDir: join(dir, 'data') }) + extraConfig);
  const server = await startListening(bin, ['serve', '--config', config], { env });
  return {
    url: server.url,
    pid: server.child.pid,
    async token(role, sub, extra = []) {
      const { stdout } = await run(bin, ['token', '--config', config, '--role', role, '--sub', sub, ...extra], { env: { ...process.env, ...env } });
      return stdout.trim();
    },
    async stop() {
      server.stop();
      await new Promise((r) => (server.child.exitCode !== null ? r() : server.child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let shot = 0;

/// A console page in its own browser context (its own sessionStorage), opened with its token
/// (`null`: none, as an unconfigured kiosk opens).
/// `preload`: a function run in the page before its own scripts (`evaluateOnNewDocument`);
/// `expose`: functions of the test the page may call (`{name: fn}`, `exposeFunction`).
export async function openConsole(browser, url, path, token, label, { isolated = true, preload = null, expose = {} } = {}) {
  const context = isolated && browser.createBrowserContext ? await browser.createBrowserContext() : browser.defaultBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  const errors = [];
  page.on('pageerror', (err) => {
    errors.push(err.message);
    console.error(`[${label}] page error:`, err.message);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.error(`[${label}] console:`, msg.text());
  });
  for (const [name, fn] of Object.entries(expose)) await page.exposeFunction(name, fn);
  if (preload) await page.evaluateOnNewDocument(preload);
  await page.goto(token ? `${url}${path}#token=${token}` : `${url}${path}`);
  return {
    page,
    label,
    errors,
    state: () => page.evaluate(() => (window.relaisTest ? window.relaisTest.state() : 'loading')),
    stats: () => page.evaluate(() => window.relaisTest.mediaStats()),
    waitState: (wanted, limitMs = 15000) =>
      waitFor(
        () => page.evaluate(() => (window.relaisTest ? window.relaisTest.state() : 'loading')),
        (s) => (Array.isArray(wanted) ? wanted.includes(s) : s === wanted),
        limitMs,
        `${label} reaches ${wanted}`,
      ),
    click: (testid) => page.locator(`[data-testid="${testid}"]`).click(),
    async shot(name) {
      await mkdir(ARTIFACTS, { recursive: true });
      shot += 1;
      const file = join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, fullPage: label === 'wallboard' });
      return file;
    },
    async close() {
      assert.deepEqual(errors, [], `${label}: no uncaught page errors`);
      if (context !== browser.defaultBrowserContext()) await context.close();
      else await page.close();
    },
  };
}

/// Waits until the page decodes remote video and receives remote audio, and both keep growing.
export async function expectMedia(console_, what) {
  const first = await waitFor(
    () => console_.stats(),
    (s) => s.framesDecoded >= 10 && s.audioPackets >= 25,
    20000,
    `${what} decodes video and receives audio`,
  );
  await sleep(1200);
  const later = await console_.stats();
  assert.ok(later.framesDecoded > first.framesDecoded, `${what}: framesDecoded grows (${first.framesDecoded} → ${later.framesDecoded})`);
  assert.ok(later.audioPackets > first.audioPackets, `${what}: audio packets keep arriving (${first.audioPackets} → ${later.audioPackets})`);
  assert.equal(later.connectionState, 'connected', `${what}: peer connection state`);
  return later;
}

/// The text of one figure of a queue's tile on the wallboard (`data-kpi` name).
export function tileValue(wallboard, service, kpi) {
  return wallboard.page.evaluate(
    (s, k) => document.querySelector(`[data-testid="queue-${s}"] [data-kpi="${k}"]`)?.dataset.value ?? null,
    service,
    kpi,
  );
}

/// Waits until the tile shows the given figures, e.g. `{ 'agents-on_call': '1' }`.
export function waitTile(wallboard, service, wanted, limitMs = 10000) {
  return waitFor(
    async () => {
      const seen = {};
      for (const kpi of Object.keys(wanted)) seen[kpi] = await tileValue(wallboard, service, kpi);
      return seen;
    },
    (seen) => Object.entries(wanted).every(([k, v]) => seen[k] === v),
    limitMs,
    `wallboard tile ${service} shows ${JSON.stringify(wanted)}`,
  );
}

/// A kiosk on its start screen calls `service`, through its camera check screen.
export async function kioskCalls(kiosk, service) {
  await kiosk.waitState('start');
  await kiosk.click(`service-${service}`);
  await kiosk.waitState('check');
  await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
  await kiosk.click('call');
}

/// Sets the agent's state through the console's selector.
export async function setAgentState(agent, value) {
  await agent.page.select('[data-testid="state-select"]', value);
}

/// Calls the page's test hook `name` (window.relaisTest).
export const hook = (console_, name) => console_.page.evaluate((n) => window.relaisTest[n](), name);

/// The trimmed text of the element with `testid`, or null while it (or a parent) is hidden.
export const text = (console_, testid) =>
  console_.page.$eval(`[data-testid="${testid}"]`, (e) => (e.hidden || e.closest('[hidden]') ? null : e.textContent.trim()));

/// Waits until the page decodes at least `count` remote videos, then checks that each keeps
/// growing; returns the decoding tracks.
export async function expectVideos(console_, what, count = 2) {
  const decoding = (stats) => stats.video.filter((v) => v.framesDecoded >= 10);
  const first = await waitFor(() => console_.stats(), (s) => decoding(s).length >= count, 20000, `${what} decodes ${count} videos`);
  await sleep(1200);
  const later = await console_.stats();
  for (const track of decoding(first)) {
    const now = later.video.find((v) => v.track === track.track);
    assert.ok(now && now.framesDecoded > track.framesDecoded, `${what}: video ${track.track} keeps decoding (${track.framesDecoded} → ${now?.framesDecoded})`);
  }
  assert.equal(later.connectionState, 'connected', `${what}: peer connection state`);
  return decoding(later);
}

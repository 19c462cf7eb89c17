// The media shard against real browsers: two peers join one room through the harness's minimal
// signalling and must decode each other's video and receive each other's audio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launchChromium, launchFirefox, startListening, targetDir, waitFor, sleep } from './browsers.mjs';

const MEDIA_IP = process.env.E2E_MEDIA_IP || '127.0.0.1';
let harness;
let nextRoom = 1;

before(async () => {
  const bin = process.env.E2E_HARNESS_BIN || join(targetDir(), 'debug', 'relais-media-harness');
  harness = await startListening(bin, ['--http', '127.0.0.1:0', '--media-ip', MEDIA_IP]);
});

after(() => harness?.stop());

async function joinRoom(browser, room, label) {
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error(`[${label}] page error:`, err.message));
  await page.goto(harness.url);
  await page.evaluate((r, l) => window.joinRoom(r, l), room, label);
  return page;
}

const stats = (page) => page.evaluate(() => window.mediaStats());

async function expectMedia(page, label) {
  const first = await waitFor(
    () => stats(page),
    (s) => s.framesDecoded >= 20 && s.audioPackets >= 50,
    25000,
    `${label} decodes video and receives audio`,
  );
  await sleep(1500);
  const later = await stats(page);
  assert.ok(later.framesDecoded > first.framesDecoded, `${label}: framesDecoded keeps growing (${first.framesDecoded} → ${later.framesDecoded})`);
  assert.ok(later.audioPackets > first.audioPackets, `${label}: audio keeps arriving`);
  assert.equal(later.state, 'connected');
  return later;
}

/// Samples framesDecoded for `seconds` and returns the longest time it stood still.
async function longestStall(page, seconds) {
  let lastFrames = (await stats(page)).framesDecoded;
  let lastChange = Date.now();
  let longest = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await sleep(100);
    const frames = (await stats(page)).framesDecoded;
    const now = Date.now();
    if (frames > lastFrames) {
      longest = Math.max(longest, now - lastChange);
      lastFrames = frames;
      lastChange = now;
    }
  }
  return Math.max(longest, Date.now() - lastChange);
}

async function call(launchKiosk, launchAgent, { watchSeconds = 0 } = {}) {
  const kioskBrowser = await launchKiosk();
  const agentBrowser = await launchAgent();
  try {
    const room = nextRoom++;
    const kiosk = await joinRoom(kioskBrowser, room, 'kiosk');
    const agent = await joinRoom(agentBrowser, room, 'agent');
    await expectMedia(kiosk, 'kiosk');
    await expectMedia(agent, 'agent');
    if (watchSeconds > 0) {
      const [kioskStall, agentStall] = await Promise.all([longestStall(kiosk, watchSeconds), longestStall(agent, watchSeconds)]);
      assert.ok(kioskStall < 700, `kiosk video stood still for ${kioskStall} ms`);
      assert.ok(agentStall < 700, `agent video stood still for ${agentStall} ms`);
    }
  } finally {
    await kioskBrowser.close();
    await agentBrowser.close();
  }
}

test('two Chromium peers decode each other through the SFU', async () => {
  await call(launchChromium, launchChromium);
});

test('a Chromium kiosk and a Firefox ESR agent decode each other through the SFU', async () => {
  await call(launchChromium, launchFirefox);
});

test('two Firefox ESR peers keep decoding for 12 s although consent checks are 4–6 s apart', async () => {
  await call(launchFirefox, launchFirefox, { watchSeconds: 12 });
});

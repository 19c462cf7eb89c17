// The kiosk's languages against the real `relais` binary: French written to be easy to read
// (short sentences, plain words), English, and Arabic laid out right to left; every text exists
// in each language, and the next citizen starts in French. Screenshots go to
// tests/artifacts/languages/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launchChromium, waitFor } from './browsers.mjs';
import { hook, openConsole, startServer, text } from './consoles-harness.mjs';

const SHOTS = resolve(import.meta.dirname, '..', 'artifacts', 'languages');

let server;
let chromium;

before(async () => {
  server = await startServer();
  chromium = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await chromium?.close();
  await server?.stop();
});

const shot = (console_, name) => console_.page.screenshot({ path: join(SHOTS, `${name}.png`) });

async function kioskFor(sub) {
  const token = await server.token('kiosk', sub, ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', token, `kiosk ${sub}`);
  await kiosk.waitState('start');
  return kiosk;
}

/// Sentences of a text: cut at full stops, question and exclamation marks, ellipses and colons.
const sentences = (line) =>
  line
    .split(/[.!?…:]+(?:\s|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
const words = (sentence) => sentence.split(/\s+/).filter((w) => /\p{L}/u.test(w));

// Easy-to-read French (the FALC rules): one idea per sentence, few words, everyday words, no
// passive, no formal or technical turns.
const MAX_WORDS = 10;
const NOT_EASY = [
  /\bveuillez\b/i, /\bultérieurement\b/i, /\bafin de\b/i, /\beffectu/i, /\bmunissez\b/i, /\bsvp\b/i, /\betc\b/i,
  /\bpatienter\b/i, /\btentative\b/i, /\bliaison\b/i, /réessay/i, /\ben cours\b/i, /\bestimée?\b/i, /\ba été(?=\s|$)/i,
];

test("the kiosk's French is easy to read, and every text exists in English and Arabic", async () => {
  const kiosk = await kioskFor('borne-langues');
  try {
    assert.deepEqual(await hook(kiosk, 'missingTexts'), { fr: [], en: [], ar: [] });
    const french = await kiosk.page.evaluate(() => window.relaisTest.texts('fr'));
    const long = [];
    for (const [key, line] of Object.entries(french)) {
      for (const sentence of sentences(line)) {
        if (words(sentence).length > MAX_WORDS) long.push(`${key}: ${sentence} (${words(sentence).length} words)`);
      }
      for (const pattern of NOT_EASY) assert.doesNotMatch(line, pattern, `${key}: "${line}"`);
    }
    assert.deepEqual(long, [], `every French sentence has at most ${MAX_WORDS} words`);
    const counts = Object.values(french).flatMap(sentences).map((s) => words(s).length);
    console.log(`French: ${counts.length} sentences, ${(counts.reduce((a, b) => a + b, 0) / counts.length).toFixed(1)} words on average, ${Math.max(...counts)} at most`);
  } finally {
    await kiosk.close();
  }
});

test('the kiosk in Arabic reads right to left, from the start screen to the end of the call, then the next citizen gets French', { timeout: 60000 }, async () => {
  const kiosk = await kioskFor('borne-arabe');
  try {
    assert.equal(await text(kiosk, 'lang'), 'English');
    assert.equal(await text(kiosk, 'lang-ar'), 'العربية');
    await kiosk.click('lang-ar');
    const page = await kiosk.page.evaluate(() => {
      const box = (el) => {
        const { left, right, top, bottom } = el.getBoundingClientRect();
        return { left, right, top, bottom };
      };
      const r = (sel) => box(document.querySelector(sel));
      const service = document.querySelector('[data-testid="service-caf"]');
      return {
        lang: document.documentElement.lang,
        dir: document.documentElement.dir,
        title: document.querySelector('#h-start').textContent,
        brand: r('.brand'),
        langs: r('#langs'),
        vw: window.innerWidth,
        serviceDirection: getComputedStyle(service).direction,
        serviceAlign: getComputedStyle(service).alignItems,
        serviceBox: box(service),
        serviceName: box(service.firstElementChild),
        scrollWidth: document.scrollingElement.scrollWidth,
      };
    });
    assert.equal(page.lang, 'ar');
    assert.equal(page.dir, 'rtl');
    assert.equal(page.title, 'مرحبًا! بأي خدمة تريد الاتصال؟');
    assert.ok(page.brand.right > page.vw - 60, `the title bar starts on the right (${page.brand.right} of ${page.vw})`);
    assert.ok(page.langs.left < 60, `the language buttons are on the left (${page.langs.left})`);
    assert.equal(page.serviceDirection, 'rtl');
    assert.ok(page.serviceName.right > page.serviceBox.right - 40, "a service's name starts on the right of its button");
    assert.ok(page.scrollWidth <= page.vw, 'nothing sticks out sideways');
    assert.equal(await text(kiosk, 'lang'), 'Français');
    assert.equal(await text(kiosk, 'lang-en'), 'English');
    await shot(kiosk, 'kiosk-ar-start');

    await kiosk.click('service-mairie');
    await kiosk.waitState('check');
    assert.equal(await text(kiosk, 'call'), 'اتصال');
    await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
    await shot(kiosk, 'kiosk-ar-check');
    await kiosk.click('call');
    await kiosk.waitState('waiting');
    await waitFor(() => text(kiosk, 'position'), (t) => t === '1', 5000, 'position 1');
    assert.equal(await text(kiosk, 'eta'), 'لا يوجد مستشار متاح الآن.', 'nobody serves the service: said in Arabic');
    assert.match(await text(kiosk, 'no-agent'), /دورك محفوظ/);
    assert.ok(await kiosk.page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth));
    await shot(kiosk, 'kiosk-ar-waiting');
    await kiosk.click('cancel');
    await kiosk.waitState('ended');
    assert.equal(await text(kiosk, 'ended-text'), 'ألغيت الاتصال.');
    await kiosk.click('home');
    await kiosk.waitState('start');
    const reset = await kiosk.page.evaluate(() => ({ lang: document.documentElement.lang, dir: document.documentElement.dir }));
    assert.deepEqual(reset, { lang: 'fr', dir: 'ltr' }, 'the next citizen starts in French');
    assert.equal(await text(kiosk, 'lang'), 'English');
  } finally {
    await kiosk.close();
  }
});

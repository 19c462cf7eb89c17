// Documents across a call, in the consoles against the real `relais` binary: the agent sends a
// PDF and a link that the kiosk shows large and prints; the agent asks for a still of the
// kiosk's camera, gets it at the camera's full resolution (larger than the call's video), for
// itself only, keeps it with the call and finds it in its history; a kiosk that allows it sends
// a file from a USB key, and a file that is not what its name says is refused. Screenshots go
// to tests/artifacts/documents/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium, launchFirefox, waitFor } from './browsers.mjs';
import { expectMedia, hook, openConsole, setAgentState, startServer, text } from './consoles-harness.mjs';

const SHOTS = resolve(import.meta.dirname, '..', 'artifacts', 'documents');

// A service whose wrap-up lasts long enough to keep documents in it.
const EXTRA = `
[[services]]
id = "prefecture"
name = "Préfecture — titres et permis"
offer_timeout_secs = 8
wrap_up_secs = 60
[[services.skills]]
skill = "prefecture"
min_proficiency = 1
`;

let server;
let chromium;
// The kiosk's own browser: a camera is a device of its machine (the fake camera of one browser
// is shared by all its pages, and one page's size bounds another's).
let kioskBrowser;
let firefox;
let files;

/// A one-page PDF with a line of text, its cross-reference table at the right offsets.
function onePagePdf(line) {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const stream = `BT /F1 24 Tf 60 760 Td (${line}) Tj ET`;
  objects[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

before(async () => {
  server = await startServer({ extraConfig: EXTRA });
  chromium = await launchChromium();
  kioskBrowser = await launchChromium();
  firefox = await launchFirefox();
  await mkdir(SHOTS, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'relais-documents-'));
  files = {
    pdf: join(dir, 'attestation-de-paiement.pdf'),
    avis: join(dir, 'avis-impot.pdf'),
    fake: join(dir, 'releve.pdf'),
  };
  await writeFile(files.pdf, onePagePdf('Attestation de paiement CAF'));
  await writeFile(files.avis, onePagePdf("Avis d'imposition 2026"));
  // A script renamed to look like a PDF: its content says otherwise.
  await writeFile(files.fake, '#!/bin/sh\necho not a pdf\n');
});

after(async () => {
  await firefox?.close();
  await kioskBrowser?.close();
  await chromium?.close();
  await server?.stop();
});

const shot = (console_, name) => console_.page.screenshot({ path: join(SHOTS, `${name}.png`) });

async function agentFor(browser, sub) {
  const token = await server.token('agent', sub, ['--skills', 'prefecture:3']);
  const agent = await openConsole(browser, server.url, '/agent', token, `agent ${sub}`, { isolated: browser === chromium });
  await agent.waitState('not_ready');
  await setAgentState(agent, 'ready');
  await agent.waitState('available');
  return agent;
}

async function kioskFor(sub, path = '/kiosk') {
  const token = await server.token('kiosk', sub, ['--site', 'mairie-test']);
  const kiosk = await openConsole(kioskBrowser, server.url, path, token, `kiosk ${sub}`);
  await kiosk.waitState('start');
  return kiosk;
}

async function connectedCall(agent, kiosk) {
  await kiosk.click('service-prefecture');
  await kiosk.waitState('check');
  await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
  await kiosk.click('call');
  await agent.waitState('ringing');
  await agent.click('accept');
  await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
  await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);
}

const documents = (console_) => hook(console_, 'documents');

/// Counts the prints of the kiosk page and of its PDF viewer instead of opening the dialog.
const countPrints = (kiosk) =>
  kiosk.page.evaluate(() => {
    window.testPrints ??= 0;
    window.print = () => {
      window.testPrints += 1;
    };
    const frame = document.querySelector('#doc-body iframe');
    try {
      if (frame) {
        frame.contentWindow.print = () => {
          window.testPrints += 1;
        };
      }
    } catch {
      // A viewer of another origin: the page's print is the one called.
    }
  });

test('a PDF and a link the agent sends (agent in Firefox ESR) are shown large at the kiosk, which prints them', { timeout: 90000 }, async () => {
  const agent = await agentFor(firefox, 'fanny');
  const kiosk = await kioskFor('borne-pdf');
  try {
    await connectedCall(agent, kiosk);
    const input = await agent.page.$('[data-testid="doc-file"]');
    await input.uploadFile(files.pdf);
    await waitFor(() => text(agent, 'doc-status'), (t) => t === "Envoyé à l'usager : attestation-de-paiement.pdf", 10000, 'the agent is told the PDF is sent');
    await kiosk.page.waitForSelector('[data-testid="doc-view"]:not([hidden])', { timeout: 10000 });
    assert.equal(await text(kiosk, 'doc-title'), 'attestation-de-paiement.pdf');
    const shown = await waitFor(() => documents(kiosk), (d) => d.shown?.kind === 'pdf', 10000, 'the kiosk shows the PDF');
    const size = (await import('node:fs')).statSync(files.pdf).size;
    assert.deepEqual(shown.shown, { id: shown.list[0].id, kind: 'pdf', size, type: 'application/pdf' }, 'the whole PDF reached the kiosk');
    assert.equal(await kiosk.page.$eval('#doc-body iframe', (f) => f.src.startsWith('blob:')), true);
    // Time for the browser's PDF viewer to draw the page.
    await new Promise((r) => setTimeout(r, 1500));
    await shot(kiosk, 'kiosk-pdf');
    await countPrints(kiosk);
    await kiosk.click('doc-print');
    assert.equal(await kiosk.page.evaluate(() => window.testPrints), 1, 'print asked once');
    assert.equal((await documents(kiosk)).printed, 1);
    await kiosk.click('doc-close');
    assert.equal(await kiosk.page.$eval('[data-testid="doc-view"]', (v) => v.hidden), true);
    assert.match(await text(kiosk, 'doc-list'), /Revoir : attestation-de-paiement\.pdf/, 'the kiosk can see it again');

    // A link: shown in large type, printed for the citizen to take home.
    await agent.click('doc-link-open');
    await agent.page.type('[data-testid="doc-url"]', 'https://www.caf.fr/allocataires/mon-compte');
    await agent.page.type('[data-testid="doc-link-title"]', 'Mon Compte CAF');
    await agent.click('doc-link-send');
    await kiosk.page.waitForSelector('[data-testid="doc-url"]', { timeout: 10000 });
    assert.equal(await text(kiosk, 'doc-title'), 'Mon Compte CAF');
    assert.equal(await text(kiosk, 'doc-url'), 'https://www.caf.fr/allocataires/mon-compte');
    await shot(kiosk, 'kiosk-link');
    await countPrints(kiosk);
    await kiosk.click('doc-print');
    assert.equal(await kiosk.page.evaluate(() => window.testPrints), 2);
    const agentList = await documents(agent);
    assert.deepEqual(agentList.list.map((d) => [d.name, d.from, d.url ?? null]), [
      ['attestation-de-paiement.pdf', 'agent', null],
      ['Mon Compte CAF', 'agent', 'https://www.caf.fr/allocataires/mon-compte'],
    ]);
    await shot(agent, 'agent-documents-sent');

    await kiosk.click('doc-close');
    await kiosk.click('hangup');
    await kiosk.waitState('ended');
    assert.equal(await kiosk.page.$eval('[data-testid="doc-view"]', (v) => v.hidden), true, 'nothing stays on the kiosk for the next citizen');
    assert.deepEqual((await documents(kiosk)).list, []);
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

test("a still of the kiosk's camera has the camera's full resolution, is for the agent only, and is kept with the call", { timeout: 90000 }, async () => {
  const agent = await agentFor(chromium, 'sacha');
  const kiosk = await kioskFor('borne-photo');
  try {
    await connectedCall(agent, kiosk);
    const received = await agent.page.$eval('#remote-video', (v) => ({ width: v.videoWidth, height: v.videoHeight }));
    const camera = await kiosk.page.evaluate(() => {
      const track = document.querySelector('#self-video').srcObject.getVideoTracks()[0];
      const caps = track.getCapabilities();
      return { sending: track.getSettings(), max: { width: Math.min(caps.width.max, 3840), height: Math.min(caps.height.max, 2160) } };
    });
    await agent.click('doc-snapshot');
    await waitFor(() => text(kiosk, 'still'), (t) => /Montrez-le à la caméra\. Photo dans [123]…/.test(t || ''), 5000, 'the citizen is told and counted down');
    await shot(kiosk, 'kiosk-still-countdown');
    const viewer = await waitFor(() => documents(agent), (d) => d.viewer?.shown?.kind === 'image', 15000, 'the agent sees the still');
    const still = viewer.list.find((d) => d.snapshot);
    console.log(`still ${still.width}×${still.height} (${still.size} bytes); the call's video ${received.width}×${received.height}; the camera sends ${camera.sending.width}×${camera.sending.height}, at most ${camera.max.width}×${camera.max.height}`);
    assert.deepEqual({ width: still.width, height: still.height }, camera.max, "the still has the camera's full resolution");
    assert.deepEqual({ width: viewer.viewer.shown.width, height: viewer.viewer.shown.height }, camera.max, 'the agent sees it at that size');
    assert.ok(still.width > received.width && still.width > camera.sending.width, 'sharper than the video of the call');
    assert.deepEqual((await documents(kiosk)).stills, [camera.max]);
    assert.deepEqual((await documents(kiosk)).list, [], 'the kiosk is not sent its own still');
    await waitFor(() => kiosk.page.evaluate(() => document.querySelector('#self-video').srcObject.getVideoTracks()[0].getSettings().width), (w) => w === camera.sending.width, 5000, "the camera is back to the call's size");
    assert.match(await text(agent, 'viewer-meta'), new RegExp(`reçu de l'usager · photo de la caméra de la borne · ${camera.max.width} × ${camera.max.height} px`));
    await shot(agent, 'agent-still');
    await agent.click('viewer-keep');
    await waitFor(() => documents(agent), (d) => d.list.find((x) => x.snapshot)?.attached === true, 5000, 'kept with the call');
    assert.equal(await text(agent, 'viewer-keep'), "Gardé avec l'appel");
    await agent.click('viewer-close');

    await kiosk.click('hangup');
    await agent.waitState('wrap_up');
    assert.match(await text(agent, 'wrapup-doc-list'), /photo\.jpg.*Gardé avec l'appel/s, 'the wrap-up lists it as kept');
    await shot(agent, 'agent-wrapup-documents');
    await agent.click('wrapup-done');
    await agent.waitState('available');
    await agent.page.waitForSelector('[data-testid="history-doc"]', { timeout: 10000 });
    await agent.click('history-doc');
    const again = await waitFor(() => documents(agent), (d) => d.viewer?.history && d.viewer.shown?.kind === 'image', 10000, 'the history shows the kept still');
    assert.deepEqual({ width: again.viewer.shown.width, height: again.viewer.shown.height }, camera.max);
    await shot(agent, 'agent-history-still');
    await agent.click('viewer-close');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

test('a kiosk that allows it sends a file from a USB key; a file that is not what its name says is refused', { timeout: 90000 }, async () => {
  const plain = await kioskFor('borne-sans-usb');
  assert.equal(await plain.page.$eval('[data-testid="upload"]', (b) => b.hidden), true, 'no USB button where the kiosk does not allow it');
  await plain.close();

  const agent = await agentFor(chromium, 'ines');
  const kiosk = await kioskFor('borne-usb', '/kiosk?upload=1');
  try {
    await connectedCall(agent, kiosk);
    assert.equal(await kiosk.page.$eval('[data-testid="upload"]', (b) => b.hidden), false);
    const input = await kiosk.page.$('[data-testid="upload-input"]');
    await input.uploadFile(files.fake);
    await waitFor(() => text(kiosk, 'upload-status'), (t) => t === 'Ce fichier ne peut pas être envoyé. Envoyez un PDF ou une photo (JPEG ou PNG).', 10000, 'the kiosk refuses the fake PDF');
    assert.deepEqual((await documents(agent)).list, [], 'nothing reached the agent');
    await input.uploadFile(files.avis);
    await waitFor(() => text(kiosk, 'upload-status'), (t) => t === 'Le fichier est envoyé au conseiller : avis-impot.pdf', 10000, 'the kiosk says it is sent');
    const got = await waitFor(() => documents(agent), (d) => d.list.length === 1, 10000, 'the agent gets it');
    assert.equal(got.list[0].from, 'kiosk');
    assert.equal(got.list[0].media_type, 'application/pdf');
    assert.match(await text(agent, 'doc-status'), /Fichier reçu de l'usager : avis-impot\.pdf/);
    await shot(kiosk, 'kiosk-usb-sent');
    await agent.page.locator('[data-testid="doc-view"]').click();
    await waitFor(() => documents(agent), (d) => d.viewer?.shown?.kind === 'pdf', 10000, 'the agent opens it');
    await shot(agent, 'agent-usb-pdf');
    await agent.click('viewer-close');
    // Not kept: after the wrap-up, it is gone from the server.
    const id = got.list[0].id;
    await agent.click('hangup');
    await agent.waitState('wrap_up');
    await agent.click('wrapup-done');
    await agent.waitState('available');
    const status = await agent.page.evaluate(async (docId) => {
      const token = sessionStorage.getItem('relais.token');
      return (await fetch(`/api/documents/${docId}`, { headers: { Authorization: `Bearer ${token}` } })).status;
    }, id);
    assert.equal(status, 404, 'a file not kept is gone after the wrap-up');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

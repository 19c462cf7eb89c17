// Launching Debian's Chromium and Firefox ESR for the end-to-end tests, with fake camera and
// microphone, and starting the binaries the tests talk to.
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import puppeteer from 'puppeteer-core';

const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

/// `extraArgs`: more flags, e.g. `--use-file-for-fake-audio-capture=tone.wav`; `profile`: a
/// profile directory to use (to start the same browser again with what it stored).
export async function launchChromium(extraArgs = [], { profile: kept = null } = {}) {
  const profile = kept ?? (await mkdtemp(join(tmpdir(), 'relais-chromium-')));
  return puppeteer.launch({
    executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...extraArgs],
  });
}

export async function launchFirefox() {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.E2E_FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    acceptInsecureCerts: true,
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'media.autoplay.default': 0,
      'media.peerconnection.ice.obfuscate_host_addresses': false,
      'network.captive-portal-service.enabled': false,
      'app.update.enabled': false,
      'browser.safebrowsing.malware.enabled': false,
      'browser.safebrowsing.phishing.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'toolkit.telemetry.enabled': false,
    },
  });
}

/// The workspace's build directory.
export function targetDir() {
  return process.env.CARGO_TARGET_DIR || resolve(import.meta.dirname, '..', '..', 'target');
}

/// Starts a binary that prints `... listening on URL` and resolves with its URL.
export async function startListening(bin, args, { env = {} } = {}) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start within 20 s`)), 20000);
    child.once('exit', (code) => reject(new Error(`${bin} exited with ${code}`)));
    lines.on('line', (line) => {
      const match = line.match(/listening on (\S+)/);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
  });
  return { child, url, stop: () => child.kill('SIGTERM') };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Polls `probe` until `done(value)` holds, or fails after `limitMs` with the last value.
export async function waitFor(probe, done, limitMs, what) {
  const deadline = Date.now() + limitMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (done(last)) return last;
    await sleep(250);
  }
  throw new Error(`${what}: not reached within ${limitMs} ms; last: ${JSON.stringify(last)}`);
}

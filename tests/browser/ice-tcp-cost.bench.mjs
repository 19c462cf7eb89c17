// What ICE over TCP costs the server against UDP: one call of two Chromium consoles for 20 s
// over UDP, then one over TCP (every UDP datagram dropped by nftables), on a server with
// `media.ice_tcp`; the server's CPU time (from /proc) per media packet it handled (received and
// sent, from its metrics). Not part of the test suite; run it in the test namespace with a
// release build:
//   cargo build --release -p relais --bin relais
//   cd tests/browser && E2E_RELAIS_BIN=$CARGO_TARGET_DIR/release/relais ../../scripts/netns.sh node ice-tcp-cost.bench.mjs
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { launchChromium, sleep, waitFor } from './browsers.mjs';
import { expectMedia, openConsole, setAgentState, startServer, kioskCalls } from './consoles-harness.mjs';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS || 20);
const TICKS = 100; // USER_HZ

async function cpuSecs(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

async function packets(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((total, l) => total + Number(l.split(' ').pop()), 0);
  return sum('relais_media_datagrams_received_total') + sum('relais_media_datagrams_sent_total');
}

async function call(server, browser, n) {
  const agent = await openConsole(browser, server.url, '/agent', await server.token('agent', `bench-${n}`, ['--skills', 'caf:3']), 'agent');
  const kiosk = await openConsole(browser, server.url, '/kiosk', await server.token('kiosk', `borne-bench-${n}`, ['--site', 'bench']), 'kiosk');
  await agent.waitState('not_ready');
  await setAgentState(agent, 'ready');
  await kioskCalls(kiosk, 'caf');
  await agent.waitState('ringing');
  await agent.click('accept');
  await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);
  const path = (await kiosk.stats()).path;
  const [cpu0, packets0] = [await cpuSecs(server.pid), await packets(server.url)];
  await sleep(SECONDS * 1000);
  const [cpu1, packets1] = [await cpuSecs(server.pid), await packets(server.url)];
  await agent.click('hangup');
  await kiosk.close();
  await agent.close();
  const handled = packets1 - packets0;
  return { path: `${path.type}/${path.protocol}`, packets: handled, cpuSecs: cpu1 - cpu0, usPerPacket: Math.round(((cpu1 - cpu0) * 1e6) / handled * 10) / 10 };
}

const server = await startServer({ env: { RELAIS_MEDIA__ICE_TCP: 'true' } });
const browser = await launchChromium();
try {
  const udp = await call(server, browser, 1);
  const nft = spawn('nft', ['-f', '-']);
  nft.stdin.end('table inet relais_bench_no_udp {\n chain out {\n  type filter hook output priority 0; policy accept;\n  meta l4proto udp drop\n }\n}\n');
  const loaded = await new Promise((resolve) => nft.once('exit', resolve));
  if (loaded !== 0) throw new Error('nftables rules not loaded');
  let tcp;
  try {
    tcp = await call(server, browser, 2);
  } finally {
    await run('nft', ['delete', 'table', 'inet', 'relais_bench_no_udp']);
  }
  console.log(JSON.stringify({ seconds: SECONDS, udp, tcp, ratio: Math.round((tcp.usPerPacket / udp.usPerPacket) * 100) / 100 }, null, 1));
} finally {
  await browser.close();
  await server.stop();
}

// Calls through a real TURN server (Debian's coturn, started here with `use-auth-secret`), for
// sites whose firewall lets no UDP reach the media port: the server hands each console ICE
// servers with TURN REST credentials in its `welcome`, and the consoles give them to
// RTCPeerConnection. Relay-only calls in Chromium and Firefox ESR, TURN over UDP and over TCP;
// then a namespace that drops every UDP datagram but the TURN server's relayed ones, where the
// consoles (no forced policy) find the TURN-over-TCP path themselves; and one that drops every
// UDP datagram, where a server with ICE over TCP is reached without TURN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { launchChromium, launchFirefox, waitFor } from './browsers.mjs';
import { expectMedia, openConsole, setAgentState, startServer, kioskCalls } from './consoles-harness.mjs';

const run = promisify(execFile);
// The TURN server has an address of its own in the test namespace (scripts/netns.sh).
const IN_NAMESPACE = process.env.E2E_MEDIA_IP === '198.18.0.1';
const TURN_IP = '198.18.0.3';
const TURN_PORT = 3478;
const TURN_SECRET = 'turn-shared-secret-for-tests-01';

let coturn;
let server;
let chromium;
let firefox;

/// Starts coturn on TURN_IP, UDP and TCP, checking credentials against TURN_SECRET.
async function startCoturn() {
  const dir = await mkdtemp(join(tmpdir(), 'relais-coturn-'));
  const log = [];
  const child = spawn('turnserver', [
    '-n',
    '--log-file=stdout',
    '--simple-log',
    '--verbose',
    `--listening-ip=${TURN_IP}`,
    `--relay-ip=${TURN_IP}`,
    `--listening-port=${TURN_PORT}`,
    '--use-auth-secret',
    `--static-auth-secret=${TURN_SECRET}`,
    '--realm=relais.test',
    '--fingerprint',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--no-multicast-peers',
    '--min-port=50000',
    '--max-port=50999',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
  ]);
  child.stdout.on('data', (chunk) => log.push(chunk.toString()));
  child.stderr.on('data', (chunk) => log.push(chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitFor(
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(`exited: ${log.join('')}`);
        const socket = connect(TURN_PORT, TURN_IP, () => {
          socket.destroy();
          resolve('listening');
        });
        socket.on('error', () => resolve('not yet'));
      }),
    (s) => s === 'listening' || s.startsWith('exited'),
    10000,
    'coturn listens',
  ).then((s) => assert.equal(s, 'listening', 'coturn started'));
  return {
    log: () => log.join(''),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

before(async () => {
  if (!IN_NAMESPACE) return;
  coturn = await startCoturn();
  server = await startServer({
    extraConfig: `
[turn]
urls = ["turn:${TURN_IP}:${TURN_PORT}?transport=udp", "turn:${TURN_IP}:${TURN_PORT}?transport=tcp"]
secret = "${TURN_SECRET}"
ttl_secs = 3600
`,
  });
  chromium = await launchChromium();
  firefox = await launchFirefox();
});

after(async () => {
  await firefox?.close();
  await chromium?.close();
  await server?.stop();
  await coturn?.stop();
});

/// A page script that makes every RTCPeerConnection relay-only through the TURN URLs of one
/// transport (`udp` or `tcp`), keeping the credentials the server handed out.
const relayOnly = (transport) => `(() => {
  const Native = window.RTCPeerConnection;
  function RelayOnly(config = {}, ...rest) {
    const iceServers = (config.iceServers || []).map((s) => ({ ...s, urls: [].concat(s.urls).filter((u) => u.endsWith('transport=${transport}')) }));
    return new Native({ ...config, iceServers, iceTransportPolicy: 'relay' }, ...rest);
  }
  RelayOnly.prototype = Native.prototype;
  RelayOnly.generateCertificate = Native.generateCertificate;
  window.RTCPeerConnection = RelayOnly;
})();`;

let nextCall = 1;

/// One answered call between a kiosk and an agent (each in its browser, with its page
/// preload); returns the time from the agent's accept to media both ways and the media paths.
async function relayedCall({ kioskBrowser, agentBrowser, kioskPreload = null, agentPreload = null }) {
  const n = nextCall++;
  const agentToken = await server.token('agent', `agent-turn-${n}`, ['--skills', 'caf:3']);
  const agent = await openConsole(agentBrowser, server.url, '/agent', agentToken, `agent ${n}`, { preload: agentPreload });
  const kioskToken = await server.token('kiosk', `borne-turn-${n}`, ['--site', 'mairie-test']);
  const kiosk = await openConsole(kioskBrowser, server.url, '/kiosk', kioskToken, `kiosk ${n}`, { preload: kioskPreload });
  try {
    await agent.waitState('not_ready');
    await setAgentState(agent, 'ready');
    await agent.waitState('available');
    await kioskCalls(kiosk, 'caf');
    await agent.waitState('ringing');
    const acceptedAt = Date.now();
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
    await Promise.all(
      [kiosk, agent].map((c) => waitFor(() => c.stats(), (s) => s.connectionState === 'connected', 15000, `${c.label} connects`)),
    );
    const connectedMs = Date.now() - acceptedAt;
    const [atKiosk, atAgent] = await Promise.all([expectMedia(kiosk, `kiosk ${n}`), expectMedia(agent, `agent ${n}`)]);
    await agent.click('hangup');
    await agent.waitState('wrap_up');
    return { connectedMs, kiosk: atKiosk.path, agent: atAgent.path };
  } finally {
    await kiosk.close();
    await agent.close();
  }
}

const skip = !IN_NAMESPACE && 'needs the test namespace (scripts/netns.sh)';

test('relay-only calls through coturn: Chromium over UDP with Firefox ESR over TCP, then the other way round', { skip, timeout: 120000 }, async () => {
  const first = await relayedCall({
    kioskBrowser: chromium,
    agentBrowser: firefox,
    kioskPreload: relayOnly('udp'),
    agentPreload: relayOnly('tcp'),
  });
  assert.deepEqual([first.kiosk.type, first.kiosk.relayProtocol], ['relay', 'udp'], `Chromium kiosk: ${JSON.stringify(first.kiosk)}`);
  assert.deepEqual([first.agent.type, first.agent.relayProtocol], ['relay', 'tcp'], `Firefox agent: ${JSON.stringify(first.agent)}`);
  const second = await relayedCall({
    kioskBrowser: chromium,
    agentBrowser: firefox,
    kioskPreload: relayOnly('tcp'),
    agentPreload: relayOnly('udp'),
  });
  assert.deepEqual([second.kiosk.type, second.kiosk.relayProtocol], ['relay', 'tcp'], `Chromium kiosk: ${JSON.stringify(second.kiosk)}`);
  assert.deepEqual([second.agent.type, second.agent.relayProtocol], ['relay', 'udp'], `Firefox agent: ${JSON.stringify(second.agent)}`);
  const allocations = (coturn.log().match(/ALLOCATE processed, success/g) || []).length;
  assert.ok(allocations >= 4, `coturn allocated a relay for each of the four peers (${allocations} allocations)`);
  console.log(
    `accept → both peers connected through TURN: Chromium/UDP + Firefox/TCP ${first.connectedMs} ms, Chromium/TCP + Firefox/UDP ${second.connectedMs} ms; ` +
      `round trips ${first.kiosk.rttMs}/${first.agent.rttMs} and ${second.kiosk.rttMs}/${second.agent.rttMs} ms`,
  );
});

test('with every UDP datagram dropped but the relayed ones, both consoles connect through TURN over TCP by themselves', { skip, timeout: 90000 }, async () => {
  // Only coturn's relay address may send or receive UDP (it talks UDP to the media port);
  // a browser reaches neither the media port nor coturn's UDP port.
  const rules = `table inet relais_no_udp {
  chain out {
    type filter hook output priority 0; policy accept;
    udp dport ${TURN_PORT} counter drop
    meta l4proto udp ip saddr != ${TURN_IP} ip daddr != ${TURN_IP} counter drop
  }
}`;
  const nft = spawn('nft', ['-f', '-']);
  nft.stdin.end(rules);
  const code = await new Promise((resolve) => nft.once('exit', resolve));
  assert.equal(code, 0, 'nftables rules loaded');
  try {
    const blocked = await relayedCall({ kioskBrowser: chromium, agentBrowser: firefox });
    assert.deepEqual([blocked.kiosk.type, blocked.kiosk.relayProtocol], ['relay', 'tcp'], `Chromium kiosk: ${JSON.stringify(blocked.kiosk)}`);
    assert.deepEqual([blocked.agent.type, blocked.agent.relayProtocol], ['relay', 'tcp'], `Firefox agent: ${JSON.stringify(blocked.agent)}`);
    const { stdout } = await run('nft', ['list', 'table', 'inet', 'relais_no_udp']);
    const [toTurn, direct] = [...stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(direct > 0, `the browsers tried UDP straight to the media port and were dropped (${direct} datagrams)`);
    console.log(`UDP dropped: ${toTurn} datagrams to coturn's UDP port, ${direct} to the media port`);
    console.log(`UDP blocked: accept → both peers connected over TURN/TCP in ${blocked.connectedMs} ms`);
  } finally {
    await run('nft', ['delete', 'table', 'inet', 'relais_no_udp']);
  }
});

test('with every UDP datagram dropped and no TURN, both consoles (Chromium) reach a server with ICE over TCP', { skip, timeout: 90000 }, async () => {
  const direct = await startServer({ env: { RELAIS_MEDIA__ICE_TCP: 'true' } });
  const rules = `table inet relais_no_udp_at_all {
  chain out {
    type filter hook output priority 0; policy accept;
    meta l4proto udp counter drop
  }
}`;
  const nft = spawn('nft', ['-f', '-']);
  nft.stdin.end(rules);
  assert.equal(await new Promise((resolve) => nft.once('exit', resolve)), 0, 'nftables rules loaded');
  const saved = server;
  server = direct;
  try {
    // Both in Chromium: Firefox ESR's first ICE-over-TCP attempt fails about one time in
    // five here (its console then rejoins and connects 14 s later); Firefox reaches a
    // UDP-blocked site through TURN over TCP (above).
    const call = await relayedCall({ kioskBrowser: chromium, agentBrowser: chromium });
    // An active TCP candidate has no port of its own until it connects: the browser sees it
    // as host or peer-reflexive, never relayed.
    for (const [who, path] of [['kiosk', call.kiosk], ['agent', call.agent]]) {
      assert.equal(path.protocol, 'tcp', `${who}: ${JSON.stringify(path)}`);
      assert.ok(['host', 'prflx'].includes(path.type), `${who}: ${JSON.stringify(path)}`);
    }
    const { stdout } = await run('nft', ['list', 'table', 'inet', 'relais_no_udp_at_all']);
    const dropped = Number(stdout.match(/counter packets (\d+)/)[1]);
    assert.ok(dropped > 0, `the browsers tried UDP and were dropped (${dropped} datagrams)`);
    console.log(`UDP blocked, ICE over TCP: accept → both peers connected in ${call.connectedMs} ms (${dropped} UDP datagrams dropped)`);
  } finally {
    server = saved;
    await run('nft', ['delete', 'table', 'inet', 'relais_no_udp_at_all']);
    await direct.stop();
  }
});

// Relais consoles: the shared client. A websocket connection speaking protocol v1 (hello,
// request/reply by id, pushes, reconnection with backoff), the token kept in sessionStorage, the
// WebRTC leg of a call (one RTCPeerConnection to the server's SFU) and small helpers.

export const PROTOCOL = 1;

const TOKEN_KEY = 'relais.token';
const RESUME_KEY = 'relais.resume';

/// The token for this page: from the URL fragment `#token=…` (then removed from the address bar
/// and kept in sessionStorage), else the one kept earlier in this tab.
export function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromHash = params.get('token');
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const DEVICE_KEY = 'relais.device';

/// An enrolled kiosk's device credential, kept across browser restarts: `{credential,
/// expiresAt, kiosk}`, or null.
export function deviceCredential() {
  try {
    const kept = JSON.parse(localStorage.getItem(DEVICE_KEY));
    return kept?.credential ? kept : null;
  } catch {
    return null;
  }
}

/// Keeps the credential the server handed out (`{credential, expires_at_ms, kiosk}`).
export function keepDeviceCredential(given) {
  localStorage.setItem(DEVICE_KEY, JSON.stringify({ credential: given.credential, expiresAt: given.expires_at_ms, kiosk: given.kiosk }));
}

export function forgetDeviceCredential() {
  localStorage.removeItem(DEVICE_KEY);
}

/// Whether what was typed at an unconfigured kiosk is a pairing code (`ABCDE-FGHJK`) rather
/// than a token.
export function looksLikePairingCode(text) {
  return /^[A-Za-z0-9]{5}[\s-]?[A-Za-z0-9]{5}$/.test(text.trim());
}

async function postJson(path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(answer.message || `HTTP ${response.status}`), { status: response.status });
  return answer;
}

/// Exchanges a pairing code for the kiosk's device credential, and keeps it.
export async function pairKiosk(code) {
  const given = await postJson('/api/kiosk/pair', { code: code.trim() });
  keepDeviceCredential(given);
  return given;
}

/// Renews the kept device credential once half of its lifetime has gone (30 days: after 15);
/// resolves with the credential to use from now on.
export async function renewDeviceCredential({ force = false } = {}) {
  const kept = deviceCredential();
  if (!kept) return null;
  const half = 15 * 86400 * 1000;
  if (!force && kept.expiresAt - Date.now() > half) return kept.credential;
  const given = await postJson('/api/kiosk/renew', {}, kept.credential);
  keepDeviceCredential(given);
  return given.credential;
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(RESUME_KEY);
}

/// Wires a page's sign-in form (`#signin-form`, `#token-input`, `#signin-error`): a pasted
/// token is remembered for the tab and handed to `onToken`.
export function bindSigninForm(onToken) {
  document.querySelector('#signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.querySelector('#token-input');
    const token = input.value.trim();
    if (!token) return;
    storeToken(token);
    document.querySelector('#signin-error').hidden = true;
    input.value = '';
    onToken(token);
  });
}

/// An error answered by the server (`code` is the stable error code).
export class RelaisError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

// Failed hellos that another attempt with the same token cannot fix.
const FATAL_HELLO = new Set(['bad_token', 'token_expired', 'protocol_version', 'forbidden']);

/// One websocket to the server. Events (subscribe with `on(name, fn)`):
///   `welcome` (result)          after each successful hello, also after a reconnection
///                               (a kiosk's `result.resumed` names the call it got back);
///   `push` (message)            every server push; also `push:<type>` per type;
///   `status` ('connecting' | 'online' | 'offline' | 'closed');
///   `fatal` ({code, message})   the token was refused or the session replaced: no reconnection.
/// The browser sign-in (the server's session cookie, which scripts cannot read): who it is,
/// or null when this browser is not signed in.
export async function browserSession() {
  try {
    const response = await fetch('/auth/session', { cache: 'no-store' });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

/// Sends the browser to the sign-in page, to come back here.
export function goSignIn() {
  location.assign(`/signin?return=${encodeURIComponent(location.pathname)}`);
}

/// Ends the browser sign-in and goes where the server says (the identity provider's log-out,
/// or the sign-in page).
export async function browserSignOut() {
  let to = '/signin?signed_out=1';
  try {
    const response = await fetch('/auth/logout', { method: 'POST' });
    const answer = await response.json();
    if (answer.redirect) to = answer.redirect;
  } catch (err) {
    console.error('sign-out', err);
  }
  location.assign(to);
}

/// Request headers for the REST API: the token's, or none (the session cookie goes by itself).
function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export class Connection {
  /// `token`: a role token, or '' for a console signed in in the browser, which then speaks as
  /// `role`.
  constructor(token, { url = defaultUrl(), role = null } = {}) {
    this.token = token;
    this.role = role;
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = new Map();
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    this.welcome = null;
    this.timer = null;
    // The ICE servers of the last `welcome` or `ice_servers`, and when they came.
    this.ice = null;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }

  emit(event, value) {
    for (const fn of this.handlers.get(event) || []) {
      try {
        fn(value);
      } catch (err) {
        console.error(`relais: ${event} handler failed`, err);
      }
    }
  }

  get online() {
    return this.welcome !== null;
  }

  start() {
    this.stopped = false;
    this.open();
    return this;
  }

  /// Closes for good (no reconnection).
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'bye');
    this.status('closed');
  }

  status(value) {
    this.emit('status', value);
  }

  open() {
    this.status('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.hello();
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcome = null;
      for (const { reject } of this.pending.values()) reject(new RelaisError('disconnected', 'connexion perdue'));
      this.pending.clear();
      if (this.stopped) return;
      this.status('offline');
      this.retry();
    };
  }

  retry() {
    // 0.5 s, 1 s, 2 s, … up to 15 s, with ±25 % jitter so kiosks do not all come back at once.
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base * (0.75 + Math.random() * 0.5);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
  }

  async hello() {
    try {
      const hello = { type: 'hello', protocol: PROTOCOL };
      if (this.token) hello.token = this.token;
      else if (this.role) hello.role = this.role;
      // A kiosk's call waits for it a while after its connection drops: the token of the
      // last welcome (kept across a reload of the page) gets it back.
      const resume = sessionStorage.getItem(RESUME_KEY);
      if (resume) hello.resume = resume;
      const result = await this.request(hello);
      this.attempt = 0;
      if (result.resume) sessionStorage.setItem(RESUME_KEY, result.resume);
      else sessionStorage.removeItem(RESUME_KEY);
      this.welcome = result;
      this.ice = result.ice ? { ...result.ice, at: Date.now() } : null;
      this.status('online');
      this.emit('welcome', result);
    } catch (err) {
      if (FATAL_HELLO.has(err.code)) {
        this.stopped = true;
        this.ws?.close(1000, 'refused');
        this.status('closed');
        this.emit('fatal', { code: err.code, message: err.message });
      }
    }
  }

  /// The `iceServers` for a new RTCPeerConnection or an ICE restart: the server's STUN and
  /// TURN servers, with TURN credentials asked afresh once half their lifetime has passed.
  async iceServers() {
    const ice = this.ice;
    if (!ice) return [];
    if (Date.now() - ice.at > (ice.ttl_secs * 1000) / 2) {
      try {
        const fresh = await this.request({ type: 'ice_servers' });
        this.ice = { ...fresh, at: Date.now() };
      } catch (err) {
        console.warn('relais: ICE servers not renewed', err);
      }
    }
    return this.ice.servers;
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message.id === 'number' && (message.type === 'ok' || message.type === 'error')) {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.type === 'ok') waiting.resolve(message.result);
      else waiting.reject(new RelaisError(message.code, message.message));
      return;
    }
    if (message.type === 'session_replaced') {
      this.stopped = true;
      this.emit('fatal', { code: 'session_replaced', message: 'session ouverte ailleurs' });
    }
    this.emit('push', message);
    this.emit(`push:${message.type}`, message);
  }

  /// Sends a request and resolves with its `result`, or rejects with a `RelaisError`.
  request(body, { timeoutMs = 15000 } = {}) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || (!this.welcome && body.type !== 'hello')) {
      return Promise.reject(new RelaisError('disconnected', 'pas de connexion au serveur'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new RelaisError('timeout', 'pas de réponse du serveur'));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ws.send(JSON.stringify({ ...body, id }));
    });
  }
}

function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/// Whether the page may use the camera and the microphone at all: browsers give them only to
/// https:// pages and localhost (elsewhere `navigator.mediaDevices` is missing).
export function secureContext() {
  return window.isSecureContext !== false && Boolean(navigator.mediaDevices);
}

/// The camera and microphone: those chosen (`{audioInput, videoInput}` device ids), or the
/// browser's default when none is chosen or the chosen one is gone.
export async function getLocalMedia(chosen = {}) {
  if (!secureContext()) {
    const err = new Error('camera and microphone need an https:// page (or localhost)');
    err.name = 'InsecureContextError';
    throw err;
  }
  const constraints = (devices) => ({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...(devices.audioInput ? { deviceId: { exact: devices.audioInput } } : {}) },
    video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 }, ...(devices.videoInput ? { deviceId: { exact: devices.videoInput } } : {}) },
  });
  try {
    return await navigator.mediaDevices.getUserMedia(constraints(chosen));
  } catch (err) {
    const unplugged = err.name === 'OverconstrainedError' || err.name === 'NotFoundError';
    if (!unplugged || (!chosen.audioInput && !chosen.videoInput)) throw err;
    return navigator.mediaDevices.getUserMedia(constraints({}));
  }
}

const DEVICES_KEY = 'relais.devices';

/// The devices this browser's user chose (`{audioInput, videoInput, audioOutput}`), kept
/// across sessions on this computer.
export function chosenDevices() {
  try {
    return JSON.parse(localStorage.getItem(DEVICES_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

export function chooseDevices(devices) {
  try {
    localStorage.setItem(DEVICES_KEY, JSON.stringify(devices));
  } catch {
    // Storage unavailable: the choice lasts as long as the page.
  }
}

/// The media devices, by kind (`audioinput`, `videoinput`, `audiooutput`), with their labels
/// (known once the page may use the camera and microphone).
export async function listDevices() {
  const all = secureContext() ? await navigator.mediaDevices.enumerateDevices() : [];
  const of = (kind) => all.filter((d) => d.kind === kind && d.deviceId);
  return { audioinput: of('audioinput'), videoinput: of('videoinput'), audiooutput: of('audiooutput') };
}

/// Plays a short tone on the chosen loudspeaker (`sinkId`, where the browser can choose one).
export async function playTestTone(sinkId) {
  const rate = 48000;
  const samples = rate;
  const data = new DataView(new ArrayBuffer(44 + samples * 2));
  const text = (at, value) => [...value].forEach((c, i) => data.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  data.setUint32(4, 36 + samples * 2, true);
  text(8, 'WAVEfmt ');
  data.setUint32(16, 16, true);
  data.setUint16(20, 1, true);
  data.setUint16(22, 1, true);
  data.setUint32(24, rate, true);
  data.setUint32(28, rate * 2, true);
  data.setUint16(32, 2, true);
  data.setUint16(34, 16, true);
  text(36, 'data');
  data.setUint32(40, samples * 2, true);
  for (let i = 0; i < samples; i++) {
    // 440 Hz, faded in and out.
    const envelope = Math.min(1, i / 2400, (samples - i) / 2400);
    data.setInt16(44 + i * 2, Math.round(0.3 * envelope * 32767 * Math.sin((2 * Math.PI * 440 * i) / rate)), true);
  }
  const audio = new Audio(URL.createObjectURL(new Blob([data], { type: 'audio/wav' })));
  if (sinkId && audio.setSinkId) await audio.setSinkId(sinkId);
  await audio.play();
  return audio;
}

export function stopMedia(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}

/// RTCPeerConnections this page made, for the browser tests (a transfer must keep the one it has).
let peerConnectionsMade = 0;

/// New offers a failed media connection makes before giving up, and the pause before each.
const MAX_REJOINS = 5;
const REJOIN_DELAY_MS = 1000;
/// A connection `disconnected` this long (the network changed: a new address, another Wi-Fi
/// or 4G cell) rejoins at once rather than waiting for the browser to call it failed
/// (about 30 s of lost consent).
const DISCONNECTED_REJOIN_MS = 2000;

/// The media leg of a call between this page and the server's SFU. `start()` after
/// `media_ready`: sends the browser's offer and applies the server's answer; `answerOffer(sdp)`
/// answers the server's later offers (more participants to receive, on the same connection).
///
/// Remote media comes as one stream per participant received (the server's receive slots, each
/// an audio and a video track of one `relais-slot-N` stream), ordered by slot: `remoteStreams`.
/// `onremote(stream, streams)` is called when a track arrives, `onremotegone(stream, streams)`
/// when a stream loses its last track (or all go, `stream` null, when the call closes).
/// `remoteStream` is the first of them, the main one (the agent for a kiosk, the kiosk for an
/// agent).
export class MediaCall {
  constructor(connection, localStream, { onremote = () => {}, onremotegone = () => {}, onstate = () => {} } = {}) {
    this.connection = connection;
    this.localStream = localStream;
    this.remoteStreams = [];
    this.onremote = onremote;
    this.onremotegone = onremotegone;
    this.onstate = onstate;
    this.pc = null;
    this.pcSerial = null;
    this.rejoins = 0;
    // Tracks that came without a stream (no `a=msid`) are gathered in one stream of their own.
    this.loose = null;
    // Resolves once the current offer's answer is applied: a server offer waits for it.
    this.negotiated = Promise.resolve();
  }

  /// The main remote stream (the first slot), or null before any remote track.
  get remoteStream() {
    return this.remoteStreams[0] || null;
  }

  async start() {
    this.close();
    const iceServers = await this.connection.iceServers();
    const pc = new RTCPeerConnection({ iceServers });
    peerConnectionsMade += 1;
    this.pcSerial = peerConnectionsMade;
    this.pc = pc;
    const tracks = this.localStream.getTracks();
    for (const track of tracks) pc.addTrack(track, this.localStream);
    // Without a camera or microphone, still ask to receive that kind from the others.
    for (const kind of ['audio', 'video']) {
      if (!tracks.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    pc.ontrack = (event) => this.addRemote(event);
    const rejoin = (delay) => {
      this.rejoins += 1;
      setTimeout(() => {
        if (this.pc === pc) this.start().catch((err) => console.error('relais: rejoin', err));
      }, delay);
    };
    pc.onconnectionstatechange = () => {
      this.onstate(pc.connectionState);
      clearTimeout(this.stalled);
      if (pc.connectionState === 'connected') this.rejoins = 0;
      // A failed connection (network change, server-side loss) rejoins the same call with a
      // new offer; the server keeps the call for its grace period meanwhile. The server's
      // media engine takes no ICE restart yet, so the rejoin is a new peer connection.
      if (pc.connectionState === 'failed' && this.rejoins < MAX_REJOINS) rejoin(REJOIN_DELAY_MS);
      if (pc.connectionState === 'disconnected') {
        this.stalled = setTimeout(() => {
          if (this.pc === pc && pc.connectionState === 'disconnected' && this.rejoins < MAX_REJOINS) rejoin(0);
        }, DISCONNECTED_REJOIN_MS);
      }
    };
    let done;
    this.negotiated = new Promise((resolve) => {
      done = resolve;
    });
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const answer = await this.connection.request({ type: 'sdp_offer', sdp: pc.localDescription.sdp });
      if (this.pc !== pc) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } finally {
      done();
    }
  }

  addRemote(event) {
    let stream = event.streams[0];
    if (!stream) {
      this.loose = this.loose || new MediaStream();
      stream = this.loose;
      if (!stream.getTracks().includes(event.track)) stream.addTrack(event.track);
    }
    if (!this.remoteStreams.includes(stream)) {
      this.remoteStreams.push(stream);
      this.remoteStreams.sort((a, b) => slotOf(a) - slotOf(b));
      stream.addEventListener('removetrack', () => {
        if (stream.getTracks().length > 0 || !this.remoteStreams.includes(stream)) return;
        this.remoteStreams = this.remoteStreams.filter((s) => s !== stream);
        this.onremotegone(stream, this.remoteStreams.slice());
      });
    }
    this.onremote(stream, this.remoteStreams.slice());
  }

  /// Answers an offer the server makes on the connected peer (another participant to
  /// receive): the same connection, no new ICE or DTLS.
  async answerOffer(sdp) {
    await this.negotiated;
    const pc = this.pc;
    if (!pc) return;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (this.pc !== pc) return;
    await this.connection.request({ type: 'sdp_answer', sdp: pc.localDescription.sdp });
  }

  setAudio(enabled) {
    for (const track of this.localStream.getAudioTracks()) track.enabled = enabled;
  }

  setVideo(enabled) {
    for (const track of this.localStream.getVideoTracks()) track.enabled = enabled;
  }

  /// Stops (or resumes) sending video on the connection without renegotiating, for a link too
  /// poor for it; the camera stays open. Where the browser cannot pause an encoding, the
  /// track sends black frames (a few kbit/s) instead.
  async pauseVideo(paused) {
    this.videoPaused = paused;
    for (const sender of this.pc?.getSenders() || []) {
      if (sender.track?.kind !== 'video') continue;
      try {
        const params = sender.getParameters();
        if (!params.encodings?.length) throw new Error('no encodings');
        for (const encoding of params.encodings) encoding.active = !paused;
        await sender.setParameters(params);
      } catch (err) {
        console.warn('video: the encoding cannot be paused; sending black frames', err);
        sender.track.enabled = !paused;
      }
    }
  }

  /// `{framesDecoded, audioPackets, framesSent, connectionState, video, audio}` read from the
  /// RTP statistics: the inbound totals, the video frames sent (outbound), and per received
  /// track (`video`: `{mid, track, framesDecoded}`, `audio`: `{mid, track, packetsReceived}`).
  /// Sends `stream`'s tracks instead of the current ones (another camera or microphone), on the
  /// same connection: no renegotiation.
  async useStream(stream) {
    this.localStream = stream;
    for (const sender of this.pc?.getSenders() || []) {
      const kind = sender.track?.kind;
      const track = kind && stream.getTracks().find((t) => t.kind === kind);
      if (track) await sender.replaceTrack(track);
    }
  }

  async stats() {
    const result = {
      framesDecoded: 0,
      audioPackets: 0,
      framesSent: 0,
      connectionState: this.pc?.connectionState || 'closed',
      path: null,
      // What the link does to the media: video sent (bytes, the encoder's target, its
      // resolution and what limits it), freezes of the video received, audio concealed.
      videoOut: { bytesSent: 0, targetBitrate: 0, frameHeight: 0, limitation: null },
      freezes: { count: 0, secs: 0 },
      audioIn: { concealedSamples: 0, totalSamples: 0 },
      video: [],
      audio: [],
    };
    if (!this.pc) return result;
    const report = await this.pc.getStats();
    result.path = mediaPath(report);
    report.forEach((s) => {
      const kind = s.kind || s.mediaType;
      if (s.type === 'outbound-rtp' && kind === 'video') {
        result.framesSent += s.framesSent ?? s.framesEncoded ?? 0;
        result.videoOut.bytesSent += s.bytesSent || 0;
        result.videoOut.targetBitrate += s.targetBitrate || 0;
        result.videoOut.frameHeight = Math.max(result.videoOut.frameHeight, s.frameHeight || 0);
        result.videoOut.limitation = s.qualityLimitationReason ?? result.videoOut.limitation;
      }
      if (s.type === 'inbound-rtp' && kind === 'video') {
        result.freezes.count += s.freezeCount || 0;
        result.freezes.secs += s.totalFreezesDuration || 0;
      }
      if (s.type === 'inbound-rtp' && kind === 'audio') {
        result.audioIn.concealedSamples += s.concealedSamples || 0;
        result.audioIn.totalSamples += s.totalSamplesReceived || 0;
      }
      if (s.type !== 'inbound-rtp') return;
      const one = { mid: s.mid ?? null, track: s.trackIdentifier ?? null };
      if (kind === 'video') {
        result.framesDecoded += s.framesDecoded || 0;
        result.video.push({ ...one, framesDecoded: s.framesDecoded || 0 });
      }
      if (kind === 'audio') {
        result.audioPackets += s.packetsReceived || 0;
        result.audio.push({ ...one, packetsReceived: s.packetsReceived || 0 });
      }
    });
    return result;
  }

  close() {
    clearTimeout(this.stalled);
    if (!this.pc) return;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    this.pc = null;
    const had = this.remoteStreams.length > 0;
    this.remoteStreams = [];
    this.loose = null;
    if (had) this.onremotegone(null, []);
  }
}

/// How the media flows, from a `getStats()` report: the selected candidate pair's local
/// candidate (`type` host, srflx, prflx or relay; `protocol` udp or tcp; for a relay, how the
/// browser reaches its TURN server), or null before a pair is selected.
export function mediaPath(report) {
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) {
    // Firefox marks the pair instead of naming it on a transport.
    report.forEach((s) => {
      if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = pair || s;
    });
  }
  const local = pair && report.get(pair.localCandidateId);
  if (!local) return null;
  return {
    type: local.candidateType,
    protocol: local.protocol,
    relayProtocol: local.relayProtocol || null,
    rttMs: pair.currentRoundTripTime !== undefined ? Math.round(pair.currentRoundTripTime * 1000) : null,
  };
}

/// The receive slot a remote stream belongs to (`relais-slot-N`), for ordering; streams of
/// other names keep their arrival order after the slots.
function slotOf(stream) {
  const match = /^relais-slot-(\d+)$/.exec(stream.id);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}

/// Where a page shows the remote streams of a call: the first in `main` (a `<video>`, when
/// given), each other one in a captioned tile of its own in `container`. `label(index, stream)`
/// says who a stream is: a name (caption and accessible name), or `{name, video}` with `video`
/// false for someone heard but not seen (a coaching voice), or null for nobody (a receive slot
/// whose participant left: the tile is hidden rather than frozen on their last picture).
/// `relabel()` asks again, e.g. when the participants change. A tile without video shows its
/// name on a dark tile instead of a black or frozen picture.
export class RemoteTiles {
  constructor({ main = null, container = null, label = () => '' } = {}) {
    this.main = main;
    this.container = container;
    this.label = label;
    this.streams = [];
    this.tiles = new Map(); // stream → figure
    this.watched = new WeakSet();
  }

  render(streams) {
    this.streams = streams.slice();
    const [first, ...rest] = this.main ? this.streams : [null, ...this.streams];
    if (this.main) {
      if (this.main.srcObject !== (first || null)) this.main.srcObject = first || null;
      if (first) this.main.play().catch(() => {});
    }
    for (const [stream, tile] of this.tiles) {
      if (!rest.includes(stream)) {
        tile.querySelector('video').srcObject = null;
        tile.querySelector('audio').srcObject = null;
        tile.remove();
        this.tiles.delete(stream);
      }
    }
    if (!this.container) return;
    let previous = null;
    for (const stream of rest) {
      let tile = this.tiles.get(stream);
      if (!tile) {
        tile = document.createElement('figure');
        tile.className = 'remote-tile';
        tile.dataset.testid = 'remote-tile';
        tile.dataset.stream = stream.id;
        // The picture and the voice play apart: a browser plays no sound of a <video> that
        // never got a frame, and a coach's stream carries a voice only.
        const video = document.createElement('video');
        video.autoplay = true;
        video.playsInline = true;
        video.muted = true;
        const audio = document.createElement('audio');
        audio.autoplay = true;
        const caption = document.createElement('figcaption');
        tile.append(video, audio, caption);
        this.tiles.set(stream, tile);
        video.srcObject = stream;
        audio.srcObject = stream;
        video.play().catch(() => {});
        audio.play().catch(() => {});
      }
      // Keeps the tiles in slot order, moving one only when it is out of place (a moved video
      // element may pause).
      const after = previous ? previous.nextElementSibling : this.container.firstElementChild;
      if (after !== tile) {
        if (previous) previous.after(tile);
        else this.container.prepend(tile);
      }
      previous = tile;
      this.watch(stream);
    }
    this.relabel();
  }

  /// Follows a stream's video track coming and going (a muted track sends no pictures).
  watch(stream) {
    if (this.watched.has(stream)) return;
    this.watched.add(stream);
    const update = () => this.relabel();
    stream.addEventListener('addtrack', (event) => {
      event.track.addEventListener('mute', update);
      event.track.addEventListener('unmute', update);
      update();
    });
    for (const track of stream.getTracks()) {
      track.addEventListener('mute', update);
      track.addEventListener('unmute', update);
    }
  }

  /// `label(index, stream)` as `{name, video}`, or null for nobody.
  describe(index, stream) {
    const who = this.label(index, stream);
    if (!who) return null;
    return typeof who === 'string' ? { name: who, video: true } : { name: who.name || '', video: who.video !== false };
  }

  relabel() {
    if (this.main) {
      const first = this.streams[0];
      const who = first ? this.describe(0, first) : null;
      if (who?.name) this.main.setAttribute('aria-label', who.name);
    }
    for (const [stream, tile] of this.tiles) {
      const index = this.streams.indexOf(stream);
      const who = this.describe(index, stream);
      const video = stream.getVideoTracks()[0];
      tile.hidden = !who;
      tile.dataset.video = who?.video && video && !video.muted ? 'on' : 'off';
      const caption = tile.querySelector('figcaption');
      if (caption.textContent !== (who?.name || '')) caption.textContent = who?.name || '';
      tile.querySelector('video').setAttribute('aria-label', who?.name || '');
      tile.dataset.index = String(index);
    }
  }

  clear() {
    this.render([]);
  }
}

/// Watches whether a `<video>` shows a picture: `onchange(state)` with `picture` (frames that are
/// not all black), `black` (frames come, all black: a camera turned off with `track.enabled =
/// false` sends black frames), `none` (no video track, a muted track, or no frame for
/// `stallMs`). A state other than `picture` is reported once it has lasted `holdMs`, so a
/// short dark scene or a network hiccup does not flash a notice; `picture` is reported at
/// once. `start()` begins (again, forgetting what it saw), `stop()` ends.
export class PictureWatch {
  constructor(video, onchange, { everyMs = 400, holdMs = 1500, stallMs = 2500 } = {}) {
    this.video = video;
    this.onchange = onchange;
    this.everyMs = everyMs;
    this.holdMs = holdMs;
    this.stallMs = stallMs;
    this.timer = 0;
    this.state = null;
    this.pending = null; // [state, since]
    this.lastFrameAt = 0;
    this.frameHandle = 0;
    this.canvas = null;
    this.seenPicture = false;
  }

  start() {
    this.stop();
    this.state = null;
    this.pending = null;
    this.seenPicture = false;
    this.startedAt = performance.now();
    this.lastFrameAt = 0;
    this.watchFrames();
    this.timer = setInterval(() => this.check(), this.everyMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    if (this.frameHandle && this.video.cancelVideoFrameCallback) this.video.cancelVideoFrameCallback(this.frameHandle);
    this.frameHandle = 0;
  }

  /// Notes the time of each frame presented, where the browser tells it.
  watchFrames() {
    if (!this.video.requestVideoFrameCallback) return;
    const onFrame = () => {
      this.lastFrameAt = performance.now();
      if (this.timer) this.frameHandle = this.video.requestVideoFrameCallback(onFrame);
    };
    this.frameHandle = this.video.requestVideoFrameCallback(onFrame);
  }

  /// What the video shows now.
  look() {
    const video = this.video;
    const track = video.srcObject?.getVideoTracks?.()[0];
    if (!track || track.readyState === 'ended' || track.muted) return 'none';
    if (video.readyState < 2 || !video.videoWidth) return 'none';
    // Frames stopped (the browser tells each one presented): the last one is frozen on screen.
    const now = performance.now();
    if (video.requestVideoFrameCallback && now - Math.max(this.lastFrameAt, this.startedAt) > this.stallMs) return 'none';
    return this.dark() ? 'black' : 'picture';
  }

  /// True when a small copy of the current frame is all (nearly) black.
  dark() {
    try {
      if (!this.canvas) {
        this.canvas = document.createElement('canvas');
        this.canvas.width = 32;
        this.canvas.height = 18;
        this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
      }
      this.ctx.drawImage(this.video, 0, 0, 32, 18);
      const { data } = this.ctx.getImageData(0, 0, 32, 18);
      let max = 0;
      let sum = 0;
      for (let i = 0; i < data.length; i += 4) {
        const luma = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
        sum += luma;
        if (luma > max) max = luma;
      }
      return max < 40 && sum / (data.length / 4) < 16;
    } catch {
      return false;
    }
  }

  check() {
    const seen = this.look();
    if (seen === 'picture') this.seenPicture = true;
    const now = performance.now();
    // The first frames take a moment to come: nothing but a picture is told before then.
    if (seen !== 'picture' && !this.seenPicture && now - this.startedAt < this.stallMs) return;
    if (seen === this.state) {
      this.pending = null;
      return;
    }
    if (seen !== 'picture') {
      if (!this.pending || this.pending[0] !== seen) this.pending = [seen, now];
      if (now - this.pending[1] < this.holdMs) return;
    }
    this.pending = null;
    this.state = seen;
    this.onchange(seen, { seenPicture: this.seenPicture });
  }
}

/// How a call's link is doing, from the figures of one interval: `rtt` (seconds, the
/// selected candidate pair's round trip), `loss` (0..1, share of the media packets expected in
/// the interval that were lost) and `kbps` (received). `good` below 300 ms and 3 % loss,
/// `poor` over 600 ms or 8 % (video freezes, the voice breaks up), `fair` between; `unknown`
/// without figures.
export function linkQuality({ rtt = null, loss = null } = {}) {
  if (rtt == null && loss == null) return 'unknown';
  if ((rtt ?? 0) > 0.6 || (loss ?? 0) > 0.08) return 'poor';
  if ((rtt ?? 0) > 0.3 || (loss ?? 0) > 0.03) return 'fair';
  return 'good';
}

/// Reads a call's statistics every `everyMs` and reports `onsample({quality, rtt, loss, kbps,
/// sendKbps, poorFor, sendLoss, own, ownPoorFor})`: the figures of the last interval and how
/// long (ms) the link has been poor without a break; `own` judges this side's own link (its
/// round trip and `sendLoss`, the loss of what it sends as the server reports it). `call` returns the current `MediaCall` (or null between calls).
/// How long a round trip measured by the connectivity checks stands for the link (browsers
/// check a pair every few seconds).
const RTT_FRESH_MS = 6000;

export class QualityMeter {
  constructor(call, onsample, { everyMs = 2000 } = {}) {
    this.call = call;
    this.onsample = onsample;
    this.everyMs = everyMs;
    this.timer = 0;
    this.last = null;
    this.poorSince = null;
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample().catch(() => {}), this.everyMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    this.last = null;
    this.poorSince = null;
    this.ownPoorSince = null;
    this.freshRtt = null;
  }

  async sample() {
    const pc = this.call()?.pc;
    if (!pc || pc.connectionState !== 'connected') {
      this.last = null;
      this.poorSince = null;
      this.onsample({ quality: 'unknown', rtt: null, loss: null, kbps: null, sendKbps: null, poorFor: 0 });
      return;
    }
    const report = await pc.getStats();
    const now = { at: performance.now(), received: 0, lost: 0, bytesIn: 0, bytesOut: 0, rtt: null, sendLoss: null };
    let pair = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        now.received += s.packetsReceived || 0;
        now.lost += Math.max(0, s.packetsLost || 0);
        now.bytesIn += s.bytesReceived || 0;
      } else if (s.type === 'outbound-rtp') {
        now.bytesOut += s.bytesSent || 0;
      } else if (s.type === 'candidate-pair' && (s.nominated || s.selected) && s.state === 'succeeded') {
        if (!pair || (s.bytesReceived || 0) > (pair.bytesReceived || 0)) pair = s;
      } else if (s.type === 'remote-inbound-rtp') {
        if (s.roundTripTime != null && now.rtt == null) now.rtt = s.roundTripTime;
        // What the server's receiver reports say of what this side sends.
        if (s.fractionLost != null) now.sendLoss = Math.max(now.sendLoss ?? 0, s.fractionLost);
      }
    });
    // The pair's round trip (STUN consent checks) where the browser measures it, as the mean of
    // the checks answered since the last sample; else RTCP's. A pair's `currentRoundTripTime`
    // stays at its last check's value, which may be many seconds old: a round trip measured
    // while a link was congested must not keep judging it once it is better.
    const before = this.last;
    if (pair) {
      now.pairId = pair.id;
      now.rttTotal = pair.totalRoundTripTime ?? null;
      now.responses = pair.responsesReceived ?? null;
      const answered = before?.pairId === pair.id && now.responses != null && before.responses != null ? now.responses - before.responses : 0;
      if (answered > 0 && now.rttTotal != null && before.rttTotal != null) {
        this.freshRtt = { value: (now.rttTotal - before.rttTotal) / answered, at: now.at };
      } else if (!before && pair.currentRoundTripTime != null) {
        this.freshRtt = { value: pair.currentRoundTripTime, at: now.at };
      }
    }
    if (this.freshRtt && now.at - this.freshRtt.at <= RTT_FRESH_MS) now.rtt = this.freshRtt.value;
    this.last = now;
    let loss = null;
    let kbps = null;
    let sendKbps = null;
    if (before) {
      const seconds = Math.max(0.001, (now.at - before.at) / 1000);
      const got = now.received - before.received;
      const lost = now.lost - before.lost;
      loss = got + lost > 0 ? Math.max(0, lost) / (got + lost) : 0;
      kbps = (8 * (now.bytesIn - before.bytesIn)) / 1000 / seconds;
      sendKbps = (8 * (now.bytesOut - before.bytesOut)) / 1000 / seconds;
    }
    const quality = linkQuality({ rtt: now.rtt, loss });
    if (quality === 'poor') this.poorSince ??= now.at;
    else this.poorSince = null;
    // This side's own link: what it sends is lost, or the round trip is long. (Loss of what it
    // receives may be the other side's link: the server forwards what reached it.)
    const sendLoss = now.sendLoss ?? null;
    const own = linkQuality({ rtt: now.rtt, loss: sendLoss });
    if (own === 'poor') this.ownPoorSince ??= now.at;
    else this.ownPoorSince = null;
    this.onsample({
      quality,
      rtt: now.rtt,
      loss,
      sendLoss,
      kbps,
      sendKbps,
      poorFor: this.poorSince == null ? 0 : now.at - this.poorSince,
      own,
      ownPoorFor: this.ownPoorSince == null ? 0 : now.at - this.ownPoorSince,
    });
  }
}

/// A poor link is told after it lasted this long (a short dip is not worth a notice).
const POOR_NOTICE_MS = 4000;

/// Shows a quality sample in the page's `#quality` badge as `label`, and `warning` in
/// `#quality-warning` once the link has stayed poor for a few seconds; `null` hides both (no
/// call).
export function showQuality(sample, label = '', warning = '') {
  const badge = $('#quality');
  const notice = $('#quality-warning');
  badge.hidden = !sample || sample.quality === 'unknown';
  badge.dataset.quality = sample?.quality ?? 'unknown';
  badge.textContent = badge.hidden ? '' : label;
  notice.hidden = !(sample?.quality === 'poor' && sample.poorFor >= POOR_NOTICE_MS);
  if (warning) notice.textContent = notice.hidden ? '' : warning;
}

/// Poor this long, a call goes on in audio only; better (good or fair) this long, video again.
export const AUDIO_ONLY_AFTER_MS = 8000;
export const VIDEO_AGAIN_AFTER_MS = 12000;

/// A call on a link too poor for video goes on in audio only: fed the samples of a
/// `QualityMeter`, once this side's own link (its round trip, the loss of what it sends) has
/// been poor for a while it asks the server (`audio_only`) to forward it audio only, stops
/// sending video, and calls `onchange(on)`; once that link has been better for a while, video
/// comes back both ways. Loss of what it receives alone does not switch: it may be the other
/// side's link (which switches on its own).
export class AudioFallback {
  constructor({ connection, media, onchange = () => {} }) {
    this.connection = connection;
    this.media = media;
    this.onchange = onchange;
    this.on = false;
    this.betterSince = null;
    this.busy = false;
  }

  sample(sample) {
    if (!sample || sample.own == null || sample.own === 'unknown') {
      this.betterSince = null;
      return;
    }
    if (!this.on) {
      if (sample.own === 'poor' && sample.ownPoorFor >= AUDIO_ONLY_AFTER_MS) this.set(true);
      return;
    }
    if (sample.own === 'poor') {
      this.betterSince = null;
      return;
    }
    this.betterSince ??= performance.now();
    if (performance.now() - this.betterSince >= VIDEO_AGAIN_AFTER_MS) this.set(false);
  }

  async set(on) {
    if (this.busy || this.on === on) return;
    this.busy = true;
    try {
      await this.connection().request({ type: 'audio_only', on });
      this.on = on;
      this.betterSince = null;
      await this.media()?.pauseVideo(on);
      this.onchange(on);
    } catch (err) {
      console.warn('audio only: not switched', err);
    } finally {
      this.busy = false;
    }
  }

  /// A new call starts with video.
  reset() {
    const was = this.on;
    this.on = false;
    this.betterSince = null;
    if (was) this.onchange(false);
  }
}

/// The last picture of `video` kept on `canvas` (shown over it) while the video stands still;
/// `null` hides it. Returns whether there was a picture to keep.
export function holdPicture(video, canvas, on) {
  if (!on) {
    canvas.hidden = true;
    return false;
  }
  const width = video.videoWidth;
  const height = video.videoHeight;
  if (width && height && canvas.hidden) {
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d').drawImage(video, 0, 0, width, height);
  }
  canvas.hidden = !(width && height) && canvas.hidden;
  return !canvas.hidden;
}

/// The figures of a quality sample in French: "120 ms · 0,4 % de perte · 1,2 Mbit/s".
export function qualityText({ rtt, loss, kbps }) {
  const parts = [];
  if (rtt != null) parts.push(`${Math.round(rtt * 1000)} ms`);
  if (loss != null) parts.push(`${(loss * 100).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} % de perte`);
  if (kbps != null) parts.push(kbps >= 1000 ? `${(kbps / 1000).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} Mbit/s` : `${Math.round(kbps)} kbit/s`);
  return parts.join(' · ');
}

/// The longest chat message the server takes, in characters.
export const CHAT_MAX_CHARS = 1000;

/// The chat of a call: a log of messages (`<ol role="log">`), a form with its input, and an
/// error line. `send(text)` sends one (a request; it rejects with a `RelaisError`); the sender's
/// own message is shown once the server took it (the server does not echo it). Every text goes
/// into the page with `textContent`. `text(key, err)` gives the page's words: `you`,
/// `too_long`, and `error` for any other refusal.
export class ChatPanel {
  constructor({ log, form, input, error, send, text }) {
    this.log = log;
    this.form = form;
    this.input = input;
    this.error = error;
    this.send = send;
    this.text = text;
    this.messages = [];
    this.sending = false;
    input.maxLength = CHAT_MAX_CHARS;
    input.dir = 'auto';
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text || this.sending) return;
    if ([...text].length > CHAT_MAX_CHARS) {
      this.showError(this.text('too_long'));
      return;
    }
    this.sending = true;
    const button = this.form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      await this.send(text);
      this.input.value = '';
      this.showError('');
      this.add({ mine: true, name: this.text('you'), text, at: Date.now() });
    } catch (err) {
      this.showError(err?.code === 'bad_request' ? this.text('too_long') : this.text('error', err));
    } finally {
      this.sending = false;
      if (button) button.disabled = false;
      this.input.focus();
    }
  }

  showError(message) {
    if (!this.error) return;
    this.error.textContent = message || '';
    this.error.hidden = !message;
  }

  /// Adds a message: `{mine, name, text, at}` (`at` in Unix ms).
  add({ mine = false, name = '', text = '', at = Date.now() }) {
    this.messages.push({ mine, name, text, at });
    const item = document.createElement('li');
    item.className = mine ? 'msg mine' : 'msg';
    item.dataset.testid = 'chat-message';
    const who = document.createElement('p');
    who.className = 'who';
    const time = document.createElement('time');
    const date = new Date(at);
    time.dateTime = date.toISOString();
    time.textContent = date.toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' });
    who.append(document.createTextNode(`${name} · `), time);
    const body = document.createElement('p');
    // A message in Arabic reads right to left, one in French left to right, whatever the page.
    body.dir = 'auto';
    body.className = 'text';
    body.textContent = text;
    item.append(who, body);
    this.log.append(item);
    this.log.scrollTop = this.log.scrollHeight;
  }

  clear() {
    this.messages = [];
    this.log.replaceChildren();
    this.input.value = '';
    this.showError('');
  }
}

const EMPTY_STATS = {
  framesDecoded: 0,
  audioPackets: 0,
  framesSent: 0,
  connectionState: 'none',
  path: null,
  videoOut: { bytesSent: 0, targetBitrate: 0, frameHeight: 0, limitation: null },
  freezes: { count: 0, secs: 0 },
  audioIn: { concealedSamples: 0, totalSamples: 0 },
  video: [],
  audio: [],
};

/**
 * The call's media on a page with `#self-video` and `#remote-video` (and `#remote-extra` for
 * the other participants' tiles): shows the local `stream` (or sends nothing when there is
 * none), plays the remote ones as they arrive in `tiles` (by default a `RemoteTiles` over those
 * elements), and reports the connection state to `onstate`.
 */
export function pageCall(connection, stream, onstate, { tiles = null } = {}) {
  const self = $('#self-video');
  if (self) self.srcObject = stream;
  const view = tiles || new RemoteTiles({ main: $('#remote-video'), container: $('#remote-extra') });
  return new MediaCall(connection, stream || new MediaStream(), {
    onremote: (_, streams) => view.render(streams),
    onremotegone: (_, streams) => view.render(streams),
    onstate,
  });
}

/// Installs `window.relaisTest` for the browser tests: `state()` names the current screen,
/// `mediaStats()` reads the call's inbound statistics and `peer()` says how many
/// RTCPeerConnections the page made and which one (by serial number) the call uses now.
export function exposeTestHooks(state, currentCall, extra = {}) {
  window.relaisTest = {
    state,
    mediaStats: async () => (currentCall() ? currentCall().stats() : { ...EMPTY_STATS }),
    peer: () => ({ made: peerConnectionsMade, current: currentCall()?.pc ? currentCall().pcSerial : null }),
    ...extra,
  };
}

/// A microphone level meter: calls `onlevel(0..1)` on each animation frame until stopped.
export function levelMeter(stream, onlevel) {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx || stream.getAudioTracks().length === 0) return () => {};
  const ctx = new Ctx();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let frame = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    const rms = Math.sqrt(sum / samples.length);
    // About -50 dBFS (silence) to -10 dBFS (loud voice) mapped onto 0..1.
    const db = 20 * Math.log10(rms || 1e-6);
    onlevel(Math.max(0, Math.min(1, (db + 50) / 40)));
    frame = requestAnimationFrame(tick);
  };
  ctx.resume().catch(() => {});
  tick();
  return () => {
    running = false;
    cancelAnimationFrame(frame);
    source.disconnect();
    ctx.close().catch(() => {});
  };
}

/// `m:ss` (or `h:mm:ss`) from seconds.
export function duration(totalSecs) {
  const secs = Math.max(0, Math.round(totalSecs));
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = String(secs % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/// Shortcut for `document.querySelector`.
export const $ = (selector, root = document) => root.querySelector(selector);

/// Shows the `[data-screen]` element named `name` and hides the others; moves the focus to its
/// first `[data-autofocus]` element (or its heading) so keyboard and screen-reader users follow.
export function showScreen(name, { focus = true } = {}) {
  let shown = null;
  for (const el of document.querySelectorAll('[data-screen]')) {
    const on = el.dataset.screen === name;
    el.hidden = !on;
    if (on) shown = el;
  }
  document.body.dataset.current = name;
  if (focus && shown) {
    const target = shown.querySelector('[data-autofocus]') || shown.querySelector('h1, h2');
    if (target) {
      if (!target.hasAttribute('tabindex') && /^H[12]$/.test(target.tagName)) target.setAttribute('tabindex', '-1');
      target.focus({ preventScroll: true });
    }
  }
  return shown;
}

/// Shows `lines` (`[class, text]` pairs) as paragraphs of `box`, redrawn only when the text
/// changed; the box is hidden when there is none.
export function renderLines(box, lines) {
  const text = lines.map(([, line]) => line).join('\n');
  if (box.dataset.text !== text) {
    box.dataset.text = text;
    box.replaceChildren(
      ...lines.map(([kind, line]) => {
        const p = document.createElement('p');
        p.className = kind;
        p.textContent = line;
        return p;
      }),
    );
  }
  box.hidden = lines.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Documents across a call: files go over HTTP beside the websocket, with the same token.

async function documentAnswer(response) {
  if (response.ok) return response;
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status says enough.
  }
  const error = new RelaisError(body.error || `http_${response.status}`, body.message || response.statusText);
  error.status = response.status;
  throw error;
}

/// Sends a file (a Blob or File) across call `call`: resolves with the `document` the other
/// side gets. `snapshot`: a still the agent asked for.
export async function uploadDocument(token, call, file, { name, snapshot = false } = {}) {
  const params = new URLSearchParams();
  if (name) params.set('name', name);
  if (snapshot) params.set('snapshot', 'true');
  const response = await fetch(`/api/calls/${encodeURIComponent(call)}/documents?${params}`, {
    method: 'POST',
    headers: authHeaders(token),
    body: file,
  });
  return (await documentAnswer(response)).json();
}

/// A document's file, as a Blob of its type.
export async function fetchDocument(token, id) {
  const response = await fetch(`/api/documents/${encodeURIComponent(id)}`, {
    headers: authHeaders(token),
    cache: 'no-store',
  });
  return (await documentAnswer(response)).blob();
}

/// The agent keeps a document with the call's record: resolves with it (`attached: true`).
export async function keepDocument(token, id) {
  const response = await fetch(`/api/documents/${encodeURIComponent(id)}/keep`, {
    method: 'POST',
    headers: authHeaders(token),
  });
  return (await documentAnswer(response)).json();
}

/// "1,2 Mo", "48 ko".
export function formatSize(bytes, lang = 'fr') {
  if (bytes == null) return '';
  const fr = lang === 'fr';
  if (bytes < 1000) return fr ? `${bytes} octets` : `${bytes} bytes`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1000)} ${fr ? 'ko' : 'kB'}`;
  const mb = (bytes / 1_000_000).toFixed(1);
  return fr ? `${mb.replace('.', ',')} Mo` : `${mb} MB`;
}

// A still is taken at most at this size (a 4K camera), to keep the kiosk's encoder alive.
const STILL_MAX = { width: 3840, height: 2160 };

/// A still of the stream's camera at the camera's full resolution, as a JPEG Blob
/// `{blob, width, height}`. The camera is raised to its largest size for the still (the call's
/// video goes on) and set back after.
export async function captureStill(stream) {
  const track = stream?.getVideoTracks().find((t) => t.readyState === 'live');
  if (!track) throw new Error('no camera');
  const before = track.getSettings();
  const caps = typeof track.getCapabilities === 'function' ? track.getCapabilities() : {};
  const want = {
    width: Math.min(caps.width?.max || 1920, STILL_MAX.width),
    height: Math.min(caps.height?.max || 1080, STILL_MAX.height),
  };
  const restore = track.getConstraints();
  let raised = false;
  if (want.width > (before.width || 0) || want.height > (before.height || 0)) {
    try {
      await track.applyConstraints({ ...restore, width: { ideal: want.width }, height: { ideal: want.height } });
      raised = true;
    } catch (err) {
      console.warn('still: the camera keeps its size', err);
    }
  }
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  try {
    await video.play();
    // Wait for a frame at the camera's new size (a second at most).
    const size = track.getSettings();
    for (let i = 0; i < 50 && (video.videoWidth !== size.width || video.videoHeight !== size.height); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) throw new Error('no picture from the camera');
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d').drawImage(video, 0, 0, width, height);
    const blob = await new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('cannot encode the still'))), 'image/jpeg', 0.92),
    );
    return { blob, width, height };
  } finally {
    video.pause();
    video.srcObject = null;
    if (raised) track.applyConstraints(restore).catch((err) => console.warn('still: camera size not restored', err));
  }
}

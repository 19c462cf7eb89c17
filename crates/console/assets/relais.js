// Relais consoles: the shared client. A websocket connection speaking protocol v1 (hello,
// request/reply by id, pushes, reconnection with backoff), the token kept in sessionStorage, the
// WebRTC leg of a call (one RTCPeerConnection to the server's SFU) and small helpers.

export const PROTOCOL = 1;

const TOKEN_KEY = 'relais.token';

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

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
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
///   `welcome` (result)          after each successful hello, also after a reconnection;
///   `push` (message)            every server push; also `push:<type>` per type;
///   `status` ('connecting' | 'online' | 'offline' | 'closed');
///   `fatal` ({code, message})   the token was refused or the session replaced: no reconnection.
export class Connection {
  constructor(token, { url = defaultUrl() } = {}) {
    this.token = token;
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = new Map();
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    this.welcome = null;
    this.timer = null;
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
      const result = await this.request({ type: 'hello', protocol: PROTOCOL, token: this.token });
      this.attempt = 0;
      this.welcome = result;
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

/// Camera and microphone. Resolves with a MediaStream; rejects with the browser's error.
export function getLocalMedia() {
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 } },
  });
}

export function stopMedia(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}

/// New offers a failed media connection makes before giving up, and the pause before each.
const MAX_REJOINS = 5;
const REJOIN_DELAY_MS = 1000;

/// The media leg of a call between this page and the server's SFU. `start()` after
/// `media_ready`: sends the browser's offer and applies the server's answer. The remote tracks
/// are gathered in `remoteStream`; `onremote(stream)` is called when one arrives.
export class MediaCall {
  constructor(connection, localStream, { onremote = () => {}, onstate = () => {} } = {}) {
    this.connection = connection;
    this.localStream = localStream;
    this.remoteStream = new MediaStream();
    this.onremote = onremote;
    this.onstate = onstate;
    this.pc = null;
    this.rejoins = 0;
  }

  async start() {
    this.close();
    const pc = new RTCPeerConnection({});
    this.pc = pc;
    for (const track of this.localStream.getTracks()) pc.addTrack(track, this.localStream);
    pc.ontrack = (event) => {
      if (!this.remoteStream.getTracks().includes(event.track)) this.remoteStream.addTrack(event.track);
      this.onremote(this.remoteStream);
    };
    pc.onconnectionstatechange = () => {
      this.onstate(pc.connectionState);
      if (pc.connectionState === 'connected') this.rejoins = 0;
      // A failed connection (network change, server-side loss) rejoins the same call with a
      // new offer; the server keeps the call for its grace period meanwhile.
      if (pc.connectionState === 'failed' && this.rejoins < MAX_REJOINS) {
        this.rejoins += 1;
        setTimeout(() => {
          if (this.pc === pc) this.start().catch((err) => console.error('relais: rejoin', err));
        }, REJOIN_DELAY_MS);
      }
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const answer = await this.connection.request({ type: 'sdp_offer', sdp: pc.localDescription.sdp });
    if (this.pc !== pc) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /// Answers an offer the server makes on the connected peer (another participant to
  /// receive): the same connection, no new ICE or DTLS.
  async answerOffer(sdp) {
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

  /// `{framesDecoded, audioPackets, connectionState}` read from the inbound RTP statistics.
  async stats() {
    const result = { framesDecoded: 0, audioPackets: 0, connectionState: this.pc?.connectionState || 'closed' };
    if (!this.pc) return result;
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const kind = s.kind || s.mediaType;
      if (kind === 'video') result.framesDecoded += s.framesDecoded || 0;
      if (kind === 'audio') result.audioPackets += s.packetsReceived || 0;
    });
    return result;
  }

  close() {
    if (!this.pc) return;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    this.pc = null;
    for (const track of this.remoteStream.getTracks()) this.remoteStream.removeTrack(track);
  }
}

const EMPTY_STATS = { framesDecoded: 0, audioPackets: 0, connectionState: 'none' };

/// Installs `window.relaisTest` for the browser tests: `state()` names the current screen and
/// `mediaStats()` reads the call's inbound statistics.
/**
 * The call's media on a page with `#self-video` and `#remote-video`: shows the local `stream`
 * (or sends nothing when there is none), plays the remote one as it arrives, and reports the
 * connection state to `onstate`.
 */
export function pageCall(connection, stream, onstate) {
  $('#self-video').srcObject = stream;
  return new MediaCall(connection, stream || new MediaStream(), {
    onremote: (remote) => {
      const video = $('#remote-video');
      if (video.srcObject !== remote) video.srcObject = remote;
      video.play().catch(() => {});
    },
    onstate,
  });
}

export function exposeTestHooks(state, currentCall, extra = {}) {
  window.relaisTest = {
    state,
    mediaStats: async () => (currentCall() ? currentCall().stats() : { ...EMPTY_STATS }),
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

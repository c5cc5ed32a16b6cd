// "Call 19115 from your browser": SIP.js over WebSocket to Asterisk's `webcall` endpoint, which
// sends the call into the same IVR as a phone call. No STUN: Asterisk is reached directly, and a
// public STUN server (SIP.js's default) would leak the resident's address to a third party.
import { Inviter, SessionState, UserAgent } from "./vendor/sip.js/index.js";

const pl = document.documentElement.lang !== "en";
const TEXT = pl
  ? { connecting: "Łączenie…", ringing: "Dzwonię…", up: "Połączono — słuchaj komunikatu.", ended: "Rozłączono.", failed: "Nie udało się połączyć: ", nomic: "Brak dostępu do mikrofonu." }
  : { connecting: "Connecting…", ringing: "Calling…", up: "Connected — listen to the message.", ended: "Call ended.", failed: "Could not connect: ", nomic: "No access to the microphone." };

const startBtn = document.getElementById("call-start");
const endBtn = document.getElementById("call-end");
const statusEl = document.getElementById("call-status");
const packetsEl = document.getElementById("call-packets");
const keypad = document.getElementById("keypad");
const audio = document.getElementById("remote-audio");
let ua = null, session = null, statsTimer = null;

function status(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function idle() {
  startBtn.disabled = false;
  endBtn.disabled = true;
  keypad.disabled = true;
  clearInterval(statsTimer);
}

async function watchMedia(pc) {
  pc.addEventListener("connectionstatechange", () => { statusEl.dataset.pc = pc.connectionState; });
  const remote = new MediaStream();
  pc.getReceivers().forEach((r) => r.track && remote.addTrack(r.track));
  audio.srcObject = remote;
  // SIP 200 OK does not mean audio flows: count RTP packets actually received.
  statsTimer = setInterval(async () => {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        packetsEl.textContent = String(s.packetsReceived);
        // Energy > 0 means sound, not just comfort silence: the greeting is being heard.
        packetsEl.dataset.energy = String(s.totalAudioEnergy || 0);
      }
    });
  }, 500);
}

async function start() {
  startBtn.disabled = true;
  status("connecting", TEXT.connecting);
  try {
    const cfg = await (await fetch("/portal/call/config.json", { cache: "no-store" })).json();
    ua = new UserAgent({
      uri: UserAgent.makeURI(cfg.uri),
      transportOptions: { server: cfg.ws_url },
      authorizationUsername: cfg.user,
      authorizationPassword: cfg.password,
      sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] } },
      logBuiltinEnabled: false,
    });
    await ua.start();
    session = new Inviter(ua, UserAgent.makeURI(cfg.target), {
      sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } },
    });
    session.stateChange.addListener((state) => {
      if (state === SessionState.Establishing) status("ringing", TEXT.ringing);
      if (state === SessionState.Established) {
        status("established", TEXT.up);
        endBtn.disabled = false;
        keypad.disabled = false;
        watchMedia(session.sessionDescriptionHandler.peerConnection);
      }
      if (state === SessionState.Terminated) {
        status("ended", TEXT.ended);
        idle();
        ua.stop();
      }
    });
    endBtn.disabled = false;
    await session.invite();
  } catch (err) {
    const text = err && err.name === "NotAllowedError" ? TEXT.nomic : TEXT.failed + (err && err.message || err);
    status("failed", text);
    idle();
  }
}

function hangUp() {
  if (!session) return;
  if (session.state === SessionState.Established) session.bye();
  else if (session.state === SessionState.Establishing) session.cancel();
}

startBtn.addEventListener("click", start);
endBtn.addEventListener("click", hangUp);
keypad.addEventListener("click", (e) => {
  const tone = e.target.dataset && e.target.dataset.tone;
  if (tone && session && session.sessionDescriptionHandler) session.sessionDescriptionHandler.sendDtmf(tone);
});

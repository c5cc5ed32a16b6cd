// The built-in WebRTC softphone: SIP.js 0.21 (plain ES modules, served from node_modules)
// registering to Asterisk's /ws. Loaded on demand, so the desk paints without it.
//
// Telephony quirks handled here:
// - iceServers: [] — SIP.js defaults to a public STUN server, unreachable from the center
//   and a multi-second ICE delay on every call.
// - "200 OK" does not mean audio flows: the visible media state is the RTCPeerConnection's
//   connectionState plus inbound-rtp packet counts from getStats.
import {
  Registerer,
  RegistererState,
  SessionState,
  UserAgent,
} from "/static/vendor/sip.js/api/index.js";

export class Softphone {
  constructor(ui) {
    this.ui = ui; // {sip(state), media(state), packets(n), incoming(info), ended(), audio}
    this.ua = null;
    this.registerer = null;
    this.session = null;
    this.micId = "";
    this.statsTimer = null;
  }

  async start(creds) {
    const uri = UserAgent.makeURI(creds.uri);
    if (!uri) throw new Error(`bad SIP URI ${creds.uri}`);
    this.ua = new UserAgent({
      uri,
      displayName: creds.display_name,
      authorizationUsername: creds.user,
      authorizationPassword: creds.password,
      transportOptions: { server: creds.ws },
      logLevel: "warn",
      sessionDescriptionHandlerFactoryOptions: {
        peerConnectionConfiguration: { iceServers: [] },
        iceGatheringTimeout: 500,
      },
      delegate: {
        onInvite: (invitation) => this.onInvite(invitation),
        onDisconnect: () => this.ui.sip("disconnected"),
      },
    });
    await this.ua.start();
    this.registerer = new Registerer(this.ua, { expires: 300 });
    this.registerer.stateChange.addListener((state) => {
      this.ui.sip(state === RegistererState.Registered ? "registered" : state.toLowerCase());
    });
    await this.registerer.register();
  }

  async stop() {
    this.hangup();
    if (this.registerer) await this.registerer.unregister().catch(() => {});
    if (this.ua) await this.ua.stop().catch(() => {});
    this.ua = null;
    this.ui.sip("offline");
  }

  onInvite(invitation) {
    if (this.session) {
      invitation.reject({ statusCode: 486 }); // busy: one call at a time on this desk
      return;
    }
    this.session = invitation;
    const from = invitation.remoteIdentity;
    this.ui.incoming({ name: from.displayName || "", number: from.uri.user || "" });
    invitation.stateChange.addListener((state) => {
      if (state === SessionState.Established) this.onEstablished(invitation);
      if (state === SessionState.Terminated) this.onTerminated(invitation);
    });
  }

  get ringing() {
    return this.session !== null && this.session.state === SessionState.Initial;
  }

  answer() {
    if (!this.ringing) return false;
    const audio = this.micId ? { deviceId: { exact: this.micId } } : true;
    this.session.accept({
      sessionDescriptionHandlerOptions: { constraints: { audio, video: false } },
    });
    return true;
  }

  hangup() {
    const session = this.session;
    if (!session) return;
    if (session.state === SessionState.Initial) session.reject().catch(() => {});
    else if (session.state === SessionState.Established) session.bye().catch(() => {});
  }

  onEstablished(session) {
    const sdh = session.sessionDescriptionHandler;
    const pc = sdh.peerConnection;
    this.ui.audio.srcObject = sdh.remoteMediaStream;
    this.ui.audio.play().catch(() => {});
    const show = () => this.ui.media(pc.connectionState);
    pc.addEventListener("connectionstatechange", show);
    show();
    // Stats of our own peer connection, once a second, while the call lasts.
    this.statsTimer = setInterval(async () => {
      let packets = 0;
      const report = await pc.getStats();
      report.forEach((stat) => {
        if (stat.type === "inbound-rtp" && stat.kind === "audio") packets += stat.packetsReceived || 0;
      });
      this.ui.packets(packets);
    }, 1000);
  }

  onTerminated(session) {
    if (this.session !== session) return;
    clearInterval(this.statsTimer);
    this.statsTimer = null;
    this.session = null;
    this.ui.media("closed");
    this.ui.ended();
  }
}

// Microphones, labelled once the browser has granted audio (labels are empty before).
export async function microphones() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    stream.getTracks().forEach((track) => track.stop());
  } catch (_) {
    return [];
  }
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices.filter((d) => d.kind === "audioinput");
}

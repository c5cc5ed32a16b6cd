// The phone controls shared by the desk and the wallboard: log in the browser softphone
// (SIP.js loaded only when asked for), pick a microphone, show SIP and media state.
import { $, api, el, setText, t } from "./common.js";

export function attachPhone({ notice, onChange, onIncoming, onEnded }) {
  const button = $("btn-phone");
  if (!button) return;
  let phone = null;

  async function toggle() {
    if (phone) {
      await phone.stop();
      phone = null;
      onChange(null);
      button.textContent = t.phone_login;
      return;
    }
    button.disabled = true;
    try {
      const { Softphone, microphones } = await import("./softphone.js");
      const creds = await api("/desk/api/softphone");
      if (!creds.ok) throw new Error(creds.error || `HTTP ${creds.status}`);
      const created = new Softphone({
        audio: $("remote-audio"),
        sip: (state) => { const b = $("sip-state"); b.textContent = state; b.className = `badge sip-${state}`; },
        media: (state) => { const b = $("media-state"); b.textContent = state; b.className = `badge media-${state}`; },
        packets: (n) => setText("rtp-in", n),
        incoming: (info) => onIncoming(info),
        ended: () => onEnded(),
      });
      const select = $("mic");
      select.replaceChildren(el("option", { value: "", text: "default" }));
      for (const mic of await microphones()) {
        select.append(el("option", { value: mic.deviceId, text: mic.label || mic.deviceId }));
      }
      select.addEventListener("change", () => { created.micId = select.value; });
      await created.start(creds);
      phone = created;
      onChange(phone);
      button.textContent = t.phone_logout;
    } catch (err) {
      notice(`${t.phone}: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener("click", toggle);
}

// A desk SIP phone registers by itself: the desk only shows its SIP account (fetched when
// asked for, never in the page) for setting the phone up.
export function attachDeskPhone({ notice }) {
  const button = $("btn-desk-phone");
  if (!button) return;
  const box = $("desk-phone-account");
  button.addEventListener("click", async () => {
    if (!box.hidden) {
      box.hidden = true;
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const account = await api("/desk/api/deskphone");
    if (!account.ok) {
      notice(`${t.phone}: ${account.error || `HTTP ${account.status}`}`, true);
      return;
    }
    setText("desk-phone-user", account.user);
    setText("desk-phone-password", account.password);
    const tls = account.tls_registrar ? `; ${account.tls_registrar} (TLS)` : "";
    setText("desk-phone-registrar", `${account.registrar} (${account.transport})${tls}`);
    box.hidden = false;
    button.setAttribute("aria-expanded", "true");
  });
}

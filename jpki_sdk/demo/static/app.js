// The demo relying party's pages. Plain JavaScript, no build step, no dependencies.
//
// Flow of both journeys (the same as jpki_sdk/demo/headless.py):
//   1. this site's backend issues a one-time challenge   POST /api/challenge
//   2. the card agent on this computer has the card sign it, for this page's origin
//                                                        POST {agent}/v1/sign
//   3. this site's backend verifies the token through the verification service
//                                                        POST /api/login | /api/identity
// The PIN goes only to the agent (kiosk mode: from the field below; otherwise the agent asks
// in its own window). It is never sent to this site and never stored.
"use strict";

const MESSAGES = {
  // from the card agent
  wrong_pin: (e) =>
    `Wrong PIN. ${e.tries_left} ${e.tries_left === 1 ? "try" : "tries"} left.` +
    (e.tries_left === 1 ? " Careful: one more wrong PIN blocks it." : ""),
  pin_blocked: (e) =>
    (e.just_blocked ? "That was the last try: the PIN is now blocked. " : "This PIN is blocked. ") +
    "Only your municipal office can reset it.",
  last_attempt_refused: () =>
    "Only one try is left. To protect your card the PIN was not sent: a wrong PIN now would " +
    "block it." +
    (isShown("last-try-row") ? " Tick the confirmation box if you are sure of your PIN." : ""),
  pin_format: (e) =>
    e.pin === "sign"
      ? "The password has 6 to 16 letters (A-Z) and digits. Nothing was sent to the card."
      : "The PIN has exactly 4 digits. Nothing was sent to the card.",
  pin_attempt_uncertain: () =>
    "The card was removed while the PIN was being checked: the try may have counted. " +
    "Put the card back and check the tries left before trying again.",
  card_removed: () =>
    "The card was removed during the operation. Put it back on the reader and try again.",
  no_card: () => "No card on the reader. Put your My Number card on the reader.",
  no_reader: () => "No card reader is connected to this computer.",
  reader_unavailable: () => "The card reader is in use by another program.",
  not_jpki_card: () => "The card on the reader is not a My Number card.",
  no_signature_certificate: () =>
    "This card has no signature certificate (cards of holders under 15 have none).",
  rate_limited: (e) => `Too many attempts. Wait ${e.retry_after} seconds and try again.`,
  busy: () => "The card is busy with another request. Try again in a moment.",
  user_cancelled: () => "The request was refused at the card agent.",
  prompt_timeout: () => "Nobody entered the PIN at the card agent in time.",
  agent_unreachable: () =>
    "The card agent is not running on this computer (or does not allow this site).",
  // from the verification service, through this site's backend
  certificate_revoked: () =>
    "This card's certificate has been revoked (for example the card was reported lost). " +
    "It can no longer be used.",
  challenge_expired: () =>
    "The login took too long: its one-time challenge expired. Please start again.",
  challenge_replayed: () =>
    "This token was already used. A replayed token is refused: every login needs a new " +
    "challenge and a new signature.",
};

class Failure extends Error {
  constructor(error, source) {
    super(error.message || error.code);
    this.code = error.code;
    this.detail = error;
    this.source = source;
  }
}

function explain(failure) {
  const text = MESSAGES[failure.code];
  return text ? text(failure.detail) : failure.message;
}

// -- talking to this site, and to the agent -----------------------------------------------------

let config = null;

async function siteConfig() {
  if (config === null) {
    const response = await fetch("/api/config", { credentials: "same-origin" });
    config = await response.json();
  }
  return config;
}

async function siteCall(path, body) {
  const init = { credentials: "same-origin" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) throw new Failure(data.error, "site");
  return data;
}

async function agentCall(path, body) {
  const { agent_url } = await siteConfig();
  const init = { mode: "cors", credentials: "omit" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(agent_url + path, init);
  } catch (err) {
    // The browser hides the details of a refused cross-origin request: the agent is not
    // running, or this origin is not on its allow-list.
    throw new Failure({ code: "agent_unreachable", message: String(err) }, "agent");
  }
  const data = await response.json();
  if (!response.ok) throw new Failure(data.error, "agent");
  return data;
}

// -- page helpers ---------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function isShown(id) {
  const element = $(id);
  return element !== null && !element.classList.contains("hidden");
}

function show(id, visible = true) {
  const element = $(id);
  if (element) element.classList.toggle("hidden", !visible);
}

function message(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = `message ${kind}`;
}

function clearMessage() {
  const box = $("message");
  if (box) box.className = "message hidden";
}

function progress(text) {
  const box = $("progress");
  if (!box) return;
  box.textContent = text || "";
  box.classList.toggle("hidden", !text);
}

function setBusy(form, busy) {
  for (const button of form.ownerDocument.querySelectorAll("button")) button.disabled = busy;
}

// Show who the agent is, how the PIN is entered, and the tries left (no try used).
async function showAgentStatus(purpose) {
  const box = $("agent-status");
  try {
    const info = await agentCall("/v1/info");
    const agentUrl = $("agent-url");
    if (agentUrl) agentUrl.textContent = (await siteConfig()).agent_url;
    const pageEntry = info.pin_entry === "page";
    show("pin-row", pageEntry);
    show("agent-prompt-note", !pageEntry);
    if (!purpose) {
      box.textContent = `Card agent ${info.version} is running (${info.card_source}).`;
      box.className = "panel ok";
      return info;
    }
    const status = await agentCall(`/v1/status?purpose=${purpose}`);
    const what = purpose === "login" ? "Auth PIN" : "Signature password";
    box.dataset.triesLeft = status.tries_left;
    if (status.blocked) {
      box.textContent = `${what}: blocked. Only your municipal office can reset it.`;
      box.className = "panel error";
    } else {
      box.textContent = `Card ready. ${what}: ${status.tries_left} of ${status.max_tries} tries left.`;
      box.className = status.last_attempt ? "panel warning" : "panel ok";
    }
    show("last-try-row", status.last_attempt && info.kiosk_allow_last_attempt);
    return info;
  } catch (failure) {
    box.textContent = explain(failure);
    box.className = "panel error";
    return null;
  }
}

// One signature: challenge from this site, signature by the agent, verification by this site.
async function signAndVerify(purpose, secret, request) {
  const challenge = await siteCall("/api/challenge", { purpose, request });
  progress(
    secret === null
      ? "The card agent is asking for your PIN in its own window..."
      : "Your card is signing this site's challenge...",
  );
  const body = { nonce: challenge.nonce, purpose };
  if (secret !== null) body.pin = secret;
  const lastTry = $("last-try");
  if (lastTry && lastTry.checked) body.allow_last_attempt = true;
  const signed = await agentCall("/v1/sign", body);
  progress("Verifying the signature and the certificate...");
  const path = purpose === "login" ? "/api/login" : "/api/identity";
  const verified = await siteCall(path, { token: signed.token });
  return { token: signed.token, verified };
}

// -- pages ----------------------------------------------------------------------------------------

const pages = {
  async index() {
    await showAgentStatus(null);
  },

  async login() {
    const form = $("login-form");
    const pin = $("pin");
    await showAgentStatus("login");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearMessage();
      const pageEntry = isShown("pin-row");
      if (pageEntry && !/^[0-9]{4}$/.test(pin.value)) {
        message(MESSAGES.pin_format({ pin: "auth" }));
        return;
      }
      setBusy(form, true);
      let failure = null;
      try {
        const { token } = await signAndVerify("login", pageEntry ? pin.value : null, "login");
        sessionStorage.setItem("jpkiDemoLoginToken", JSON.stringify(token));
        progress("Logged in.");
        window.location.assign("/account");
      } catch (caught) {
        failure = caught;
      } finally {
        pin.value = "";
        $("last-try").checked = false;
        setBusy(form, false);
      }
      if (failure !== null) {
        progress("");
        message(explain(failure));
        await showAgentStatus("login");
      }
    });
  },

  async account() {
    let me;
    try {
      me = (await siteCall("/api/me")).result;
    } catch (failure) {
      show("not-logged-in");
      $("account-title").textContent = "Not logged in";
      return;
    }
    const subject = me.subject;
    $("subject-key").textContent = subject.key;
    $("subject-serial").textContent = subject.serial;
    $("subject-cn").textContent = subject.cn;
    $("subject-issuer").textContent = `${subject.issuer} (generation ${subject.issuer_generation})`;
    const r = me.revocation;
    $("revocation").textContent = `${r.status} according to ${r.source || "no source"} (mode ${r.mode})`;
    $("verified-at").textContent = me.verified_at;
    show("test-root-warning", me.test_root);
    show("account");
    show("logout-form");
    const token = sessionStorage.getItem("jpkiDemoLoginToken");
    show("security", token !== null);
    $("replay-button").addEventListener("click", async () => {
      const result = $("replay-result");
      try {
        await siteCall("/api/login", { token: JSON.parse(token) });
        result.textContent = "The replayed token was accepted. This must never happen.";
        result.className = "message error";
      } catch (failure) {
        result.textContent = `Refused: ${explain(failure)}`;
        result.className = "message success";
      }
    });
    $("logout-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      await siteCall("/api/logout", {});
      sessionStorage.removeItem("jpkiDemoLoginToken");
      window.location.assign("/");
    });
  },

  async identity() {
    const form = $("identity-card-form");
    const password = $("password");
    await showAgentStatus("identity");

    async function run(request) {
      clearMessage();
      const pageEntry = isShown("pin-row");
      const secret = password.value.toUpperCase();
      if (pageEntry && !/^[A-Z0-9]{6,16}$/.test(secret)) {
        message(MESSAGES.pin_format({ pin: "sign" }));
        return;
      }
      setBusy(form, true);
      let failure = null;
      try {
        const { verified } = await signAndVerify("identity", pageEntry ? secret : null, request);
        showIdentity(verified);
      } catch (caught) {
        failure = caught;
      } finally {
        password.value = "";
        $("last-try").checked = false;
        setBusy(form, false);
        progress("");
      }
      if (failure !== null) message(explain(failure));
      await showAgentStatus("identity");
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run("form");
    });
    $("age-button").addEventListener("click", () => run("age"));
  },

  async controls() {
    async function refresh(action, body) {
      const state = action
        ? await siteCall(`/api/controls/${action}`, body || {})
        : await siteCall("/api/controls");
      const current = state.cards.find((c) => c.key === state.inserted);
      let text = current
        ? `${current.label} (${current.note}) is ` +
          (state.present ? "in the reader." : "OUT of the reader (pulled).")
        : "The reader is empty.";
      if (state.pull_armed) text += " It will be pulled during the next signature.";
      if (state.expire_next) text += " The next challenge will expire before it is used.";
      $("reader-state").textContent = text;
      const rows = state.cards.map((c) => {
        const row = document.createElement("tr");
        for (const value of [`${c.label}: ${c.note}`, c.age, c.tries.auth, c.tries.sign]) {
          const cell = document.createElement("td");
          cell.textContent = value;
          row.appendChild(cell);
        }
        const cell = document.createElement("td");
        const button = document.createElement("button");
        button.type = "button";
        button.id = `insert-${c.key}`;
        button.textContent =
          c.key === state.inserted && state.present ? "In the reader" : "Insert this card";
        button.disabled = c.key === state.inserted && state.present;
        button.addEventListener("click", () => refresh("insert", { card: c.key }));
        cell.appendChild(button);
        row.appendChild(cell);
        return row;
      });
      $("cards").querySelector("tbody").replaceChildren(...rows);
    }
    $("remove-button").addEventListener("click", () => refresh("remove"));
    $("pull-button").addEventListener("click", () => refresh("pull", { armed: true }));
    $("reset-button").addEventListener("click", () => refresh("reset-pins"));
    $("expire-button").addEventListener("click", () => refresh("expire-next", { armed: true }));
    await refresh();
  },
};

function showIdentity(verified) {
  const attributes = verified.result.attributes;
  if (verified.request === "form") {
    $("name").value = attributes.name;
    $("address").value = attributes.address;
    $("birth-date").value = attributes.birth_date;
    $("sex").value = attributes.sex; // "1" male, "2" female, "9" not applicable
    for (const id of ["name", "address", "birth-date", "sex"]) $(id).classList.add("verified");
    show("verified-note");
  }
  const over = attributes.age_over_20;
  $("age-answer").textContent = over ? "Yes" : "No";
  $("age-answer").className = over ? "yes" : "no";
  $("age-note").textContent =
    verified.request === "age"
      ? "The service answered the question without releasing your birth date, name or address."
      : "Answered by the verification service from the certificate.";
  show("age-result");
  $("released-json").textContent = JSON.stringify(
    { requested: verified.requested, attributes },
    null,
    2,
  );
  show("released");
}

document.addEventListener("DOMContentLoaded", () => {
  const page = pages[document.body.dataset.page];
  if (page) page();
});

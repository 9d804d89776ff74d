/*
 * The live event feed: `alertEvents` over graphql-transport-ws (graphql-ws).
 *
 * It starts after `latestEventCursor` and remembers the cursor of the last event
 * it showed. When the connection drops (server restart, network), it says it is
 * reconnecting, waits (1 s doubling to 15 s) and subscribes again with `after`
 * set to that cursor: the server replays what happened meanwhile, so no event is
 * lost, and an event at or before the cursor is never shown twice.
 */

import { byId, clockTime, h } from "./dom.js";
import { ApiError, GRAPHQL_URL } from "./api.js";

const LATEST_CURSOR = `query DashboardLatestCursor { latestEventCursor }`;
const ALERT_EVENTS = `
subscription DashboardFeed($after: String) {
  alertEvents(after: $after) { cursor type occurredAt payload }
}`;
const MAX_ITEMS = 200;
const FIRST_DELAY = 1;
const MAX_DELAY = 15;
/** Close codes after which reconnecting cannot help: the key or the request was refused. */
const REFUSED_CLOSE_CODES = new Set([4400, 4401, 4403]);
const REFUSED_ERROR_CODES = new Set(["UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT"]);

function websocketUrl() {
  const url = new URL(GRAPHQL_URL);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function describe(envelope) {
  const p = envelope.payload || {};
  if (envelope.type.startsWith("slo.")) {
    const change = p.previousStatus ? `${p.previousStatus} → ${p.status}` : p.status;
    return `${p.service}/${p.policyName}: ${change}`;
  }
  return `${p.severity} ${p.service}: ${p.summary} [${p.status}]`;
}

function isAfter(cursor, last) {
  return last === null || BigInt(cursor) > BigInt(last);
}

export class EventFeed {
  constructor(api, key, { onEvent, onProblem, onRecovered }) {
    this.api = api;
    this.key = key;
    this.onEvent = onEvent;
    this.onProblem = onProblem;
    this.onRecovered = onRecovered;
    this.lastCursor = null;
    this.client = null;
    this.timer = null;
    this.delay = FIRST_DELAY;
    this.stopped = false;
    this.list = byId("feed-list");
    this.showEvaluations = byId("feed-evaluations");
  }

  async start() {
    this.status("connecting…", "");
    try {
      this.lastCursor = (await this.api.request(LATEST_CURSOR)).latestEventCursor;
    } catch (error) {
      this.onProblem(error);
      this.retry(error.retryAfter || this.delay);
      return;
    }
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.dispose();
  }

  connect() {
    if (this.stopped) {
      return;
    }
    if (this.lastCursor === null) {
      this.start();
      return;
    }
    this.dispose();
    const client = window.graphqlWs.createClient({
      url: websocketUrl(),
      lazy: true,
      retryAttempts: 0,
      connectionParams: { Authorization: `Bearer ${this.key}` },
      on: { connected: () => this.connected() },
    });
    this.client = client;
    client.subscribe(
      { query: ALERT_EVENTS, variables: { after: this.lastCursor } },
      {
        next: (result) => this.receive(result),
        error: (error) => this.dropped(client, error),
        complete: () => this.dropped(client, new Error("the subscription ended")),
      },
    );
  }

  connected() {
    this.delay = FIRST_DELAY;
    this.status("live", "is-live");
    this.onRecovered();
  }

  receive(result) {
    if (result.errors && result.errors.length) {
      this.dropped(this.client, result.errors);
      return;
    }
    const envelope = result.data.alertEvents;
    if (!isAfter(envelope.cursor, this.lastCursor)) {
      return; // shown already, before a reconnection
    }
    this.lastCursor = envelope.cursor;
    if (envelope.type !== "slo.evaluated" || this.showEvaluations.checked) {
      this.show(envelope);
    }
    this.onEvent(envelope);
  }

  show(envelope) {
    const item = h(
      "li",
      { class: "feed-event", "data-cursor": envelope.cursor, "data-type": envelope.type },
      h("time", { dateTime: envelope.occurredAt }, clockTime(envelope.occurredAt)),
      " ",
      h("strong", {}, envelope.type),
      " ",
      h("span", { class: "feed-text" }, describe(envelope)),
      " ",
      h("span", { class: "cursor" }, `#${envelope.cursor}`),
    );
    this.list.prepend(item);
    while (this.list.children.length > MAX_ITEMS) {
      this.list.lastChild.remove();
    }
  }

  dropped(client, error) {
    if (client !== this.client || this.stopped) {
      return; // an old connection, replaced already
    }
    this.dispose();
    const refusal = this.refusal(error);
    if (refusal !== null) {
      this.status("stopped", "is-stopped");
      this.onProblem(refusal);
      return;
    }
    this.retry(this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY);
  }

  refusal(error) {
    if (error && REFUSED_CLOSE_CODES.has(error.code)) {
      const reason = error.reason || "the key was refused";
      return new ApiError("unauthenticated", `live events: ${reason} (close ${error.code})`);
    }
    if (Array.isArray(error)) {
      const codes = error.map((each) => each.extensions && each.extensions.code);
      const refused = codes.find((code) => REFUSED_ERROR_CODES.has(code));
      if (refused) {
        const message = error.map((each) => each.message).join("; ");
        return new ApiError(refused === "UNAUTHENTICATED" ? "unauthenticated" : "invalid", `live events: ${refused}: ${message}`);
      }
      if (codes.includes("CURSOR_EXPIRED")) {
        this.lastCursor = null; // older than the retained events: start again from now
      }
    }
    return null;
  }

  retry(seconds) {
    clearTimeout(this.timer);
    const resume = this.lastCursor === null ? "" : `, resuming after #${this.lastCursor}`;
    this.status(`reconnecting in ${seconds} s${resume}`, "is-reconnecting");
    this.timer = setTimeout(() => this.connect(), seconds * 1000);
  }

  dispose() {
    if (this.client !== null) {
      const client = this.client;
      this.client = null;
      client.dispose();
    }
  }

  status(text, state) {
    const element = byId("feed-status");
    element.textContent = text;
    element.className = `feed-status ${state}`;
  }
}

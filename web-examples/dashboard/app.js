/*
 * The opsgraph dashboard: asks for an API key, then shows the workspace's SLOs,
 * open alerts, a signal chart, who is on call and a live event feed.
 *
 * Static files, no build step: opsgraph serves them at /dashboard, with the
 * vendored graphql-ws and uPlot from /static/vendor/. The key is kept in this
 * browser's localStorage (shared with the playground) and sent only to this
 * server's /graphql.
 */

import { AlertPanel } from "./alerts.js";
import { Api, describeError } from "./api.js";
import { byId } from "./dom.js";
import { EventFeed } from "./feed.js";
import { OncallPanel } from "./oncall.js";
import { Problems, Refresher } from "./refresher.js";
import { SeriesPanel } from "./series.js";
import { SloPanel } from "./slos.js";

const KEY_STORAGE = "opsgraph.apiKey";
const ME = `query DashboardMe { me { keyName role workspace { name } } }`;

const problems = new Problems(byId("problem"), describeError);
let running = [];

function stopAll() {
  running.forEach((part) => part.stop());
  running = [];
}

function showSignedOut() {
  stopAll();
  byId("panels").hidden = true;
  byId("welcome").hidden = false;
  byId("forget-key").hidden = true;
  byId("identity").textContent = "";
}

function forgetKey() {
  window.localStorage.removeItem(KEY_STORAGE);
  problems.clearAll();
  showSignedOut();
}

function refused(error) {
  window.localStorage.removeItem(KEY_STORAGE);
  showSignedOut();
  problems.show("key", error);
}

function startPanels(api, key, me) {
  const canWrite = me.role !== "VIEWER";
  document.querySelector(".actions-head").hidden = !canWrite;
  const refresher = (name, refresh, every) =>
    new Refresher(name, refresh, { every, problems, onRefused: refused });
  const sloPanel = new SloPanel(api);
  const oncallPanel = new OncallPanel(api);
  const slos = refresher("slos", () => sloPanel.refresh(), 30);
  const oncall = refresher("oncall", () => oncallPanel.refresh(), 60);
  const seriesPanel = new SeriesPanel(api, { onChange: () => chart.poke() });
  const chart = refresher("chart", () => seriesPanel.refresh(), 30);
  const alertPanel = new AlertPanel(api, {
    canWrite,
    onChange: () => {
      problems.clear("action");
      alerts.poke();
    },
    onError: (error) => problems.show("action", error),
  });
  const alerts = refresher("alerts", () => alertPanel.refresh(), 30);
  const feed = new EventFeed(api, key, {
    onEvent: (envelope) => (envelope.type.startsWith("slo.") ? slos : alerts).poke(),
    onProblem: (error) => (error.kind === "unauthenticated" ? refused(error) : problems.show("feed", error)),
    onRecovered: () => problems.clear("feed"),
  });
  running = [slos, alerts, chart, oncall, feed];
  running.forEach((part) => part.start());
}

async function connect(key) {
  stopAll();
  problems.clearAll();
  const api = new Api(key);
  let me;
  try {
    me = (await api.request(ME)).me;
  } catch (error) {
    if (error.kind === "unauthenticated") {
      refused(error);
    } else {
      problems.show("key", error);
    }
    return;
  }
  window.localStorage.setItem(KEY_STORAGE, key);
  byId("identity").textContent = `${me.keyName} · ${me.role} · ${me.workspace.name}`;
  byId("identity").dataset.role = me.role;
  byId("welcome").hidden = true;
  byId("panels").hidden = false;
  byId("forget-key").hidden = false;
  startPanels(api, key, me);
}

byId("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = byId("api-key").value.trim();
  byId("api-key").value = "";
  if (key) {
    connect(key);
  }
});
byId("forget-key").addEventListener("click", forgetKey);

const stored = window.localStorage.getItem(KEY_STORAGE);
if (stored) {
  connect(stored);
}

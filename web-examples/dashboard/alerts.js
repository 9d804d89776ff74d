/*
 * The open alerts (FIRING or ACKNOWLEDGED), newest first, one page of PAGE_SIZE at
 * a time: a workspace with thousands of open alerts renders as fast as one with
 * ten. A key that may write gets Acknowledge and Resolve buttons; a viewer's none.
 */

import { byId, fill, h, relativeTime } from "./dom.js";

export const PAGE_SIZE = 25;

const OPEN_ALERTS = `
query DashboardAlerts($first: Int!, $after: String) {
  alerts(filter: { status: [FIRING, ACKNOWLEDGED] }, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id service summary severity status occurrenceCount lastFiredAt } }
  }
}`;

const MOVES = {
  acknowledge: `mutation DashboardAcknowledge($id: ID!) { acknowledgeAlert(id: $id) { id status } }`,
  resolve: `mutation DashboardResolve($id: ID!) { resolveAlert(id: $id) { id status } }`,
};

export class AlertPanel {
  constructor(api, { canWrite, onChange, onError }) {
    this.api = api;
    this.canWrite = canWrite;
    this.onChange = onChange;
    this.onError = onError;
    this.afters = [null]; // the `after` of each page seen, for going back
    this.page = 0;
    this.endCursor = null;
    byId("alerts-older").onclick = () => this.older();
    byId("alerts-newer").onclick = () => this.newer();
  }

  async refresh() {
    const after = this.afters[this.page];
    const data = await this.api.request(OPEN_ALERTS, { first: PAGE_SIZE, after });
    const { edges, pageInfo, totalCount } = data.alerts;
    if (edges.length === 0 && this.page > 0) {
      this.page -= 1; // the page emptied as alerts were resolved: show the one before
      return this.refresh();
    }
    this.endCursor = pageInfo.endCursor;
    fill(byId("alert-rows"), edges.map(({ node }) => this.row(node)), byId("alerts-empty"));
    const first = this.page * PAGE_SIZE + 1;
    byId("alert-range").textContent = totalCount
      ? `${first}–${first + edges.length - 1} of ${totalCount.toLocaleString("en")}`
      : "";
    byId("alerts-older").disabled = !pageInfo.hasNextPage;
    byId("alerts-newer").disabled = this.page === 0;
    return data.alerts;
  }

  older() {
    this.afters[this.page + 1] = this.endCursor;
    this.page += 1;
    this.onChange();
  }

  newer() {
    this.page = Math.max(0, this.page - 1);
    this.onChange();
  }

  row(alert) {
    return h(
      "tr",
      { class: "alert-row", "data-alert-id": alert.id, "data-status": alert.status },
      h("td", {}, h("span", { class: `badge severity-${alert.severity}` }, alert.severity)),
      h("td", {}, alert.service),
      h("td", {}, alert.summary),
      h("td", { class: `alert-status alert-status-${alert.status}` }, alert.status),
      h("td", { title: alert.lastFiredAt }, relativeTime(alert.lastFiredAt)),
      h("td", {}, String(alert.occurrenceCount)),
      h("td", { class: "actions" }, this.canWrite ? this.buttons(alert) : []),
    );
  }

  buttons(alert) {
    const buttons = [];
    if (alert.status === "FIRING") {
      buttons.push(this.button("Acknowledge", "acknowledge", alert));
    }
    buttons.push(this.button("Resolve", "resolve", alert));
    return buttons;
  }

  button(label, move, alert) {
    return h("button", { type: "button", class: `action-${move}`, onclick: (event) => this.apply(move, alert, event.target) }, label);
  }

  async apply(move, alert, button) {
    const row = button.closest("tr");
    row.querySelectorAll("button").forEach((each) => {
      each.disabled = true;
    });
    try {
      const data = await this.api.request(MOVES[move], { id: alert.id });
      const changed = Object.values(data)[0];
      row.replaceWith(this.row({ ...alert, status: changed.status }));
      this.onChange();
    } catch (error) {
      row.querySelectorAll("button").forEach((each) => {
        each.disabled = false;
      });
      this.onError(error);
    }
  }
}

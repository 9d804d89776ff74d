/* The SLO panel: every policy's newest status, budget left and burn rates, coloured by status. */

import { byId, fill, h, percent, relativeTime } from "./dom.js";

const SLO_OVERVIEW = `
query DashboardSlos {
  sloOverview {
    policies {
      status
      errorBudgetRemaining
      evaluatedAt
      policy {
        id service name objective windowDays
        latestEvaluation { burnRates { window rate } firingPairs }
      }
    }
  }
}`;

function budgetCell(remaining, status) {
  const width = remaining === null ? 0 : Math.max(0, Math.min(1, remaining)) * 100;
  const bar = h("span", { class: `budget budget-${status}` }, h("span"));
  bar.firstChild.style.width = `${width}%`;
  return h("td", { class: "budget-cell" }, bar, percent(remaining));
}

function burnList(evaluation) {
  const rates = (evaluation && evaluation.burnRates) || [];
  return h(
    "ul",
    { class: "burns" },
    rates.map(({ window, rate }) =>
      h("li", { class: rate !== null && rate >= 1 ? "burn-hot" : "" }, `${window} ${rate === null ? "–" : rate.toFixed(2)}×`),
    ),
  );
}

function sloRow(summary) {
  const { policy } = summary;
  const status = summary.status || "NO_DATA";
  const evaluation = policy.latestEvaluation;
  const firing = (evaluation && evaluation.firingPairs) || [];
  return h(
    "tr",
    { class: `slo-row slo-row-${status}`, "data-policy-id": policy.id, "data-status": status },
    h("td", {}, policy.service),
    h("td", {}, policy.name),
    h("td", {}, `${policy.objective} % / ${policy.windowDays} d`),
    h(
      "td",
      {},
      h("span", { class: `badge status-${status}` }, summary.status || "not evaluated"),
      summary.evaluatedAt ? h("div", { class: "count" }, relativeTime(summary.evaluatedAt)) : null,
    ),
    budgetCell(summary.errorBudgetRemaining, status),
    h("td", {}, burnList(evaluation)),
    h("td", {}, firing.length ? firing.join(", ") : "–"),
  );
}

export class SloPanel {
  constructor(api) {
    this.api = api;
  }

  async refresh() {
    const data = await this.api.request(SLO_OVERVIEW);
    fill(byId("slo-rows"), data.sloOverview.policies.map(sloRow), byId("slo-empty"));
    return data.sloOverview.policies;
  }
}

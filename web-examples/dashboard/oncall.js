/* Who is on call now, in every schedule. */

import { byId, fill, h, relativeTime } from "./dom.js";

const ONCALL_NOW = `
query DashboardOncall {
  oncallNow { schedule person contact endsAt source }
}`;

function shiftItem(shift) {
  return h(
    "li",
    { class: "oncall-shift", "data-schedule": shift.schedule },
    h("strong", {}, shift.person),
    ` (${shift.contact}) on ${shift.schedule}, until `,
    h("time", { dateTime: shift.endsAt, title: shift.endsAt }, relativeTime(shift.endsAt)),
  );
}

export class OncallPanel {
  constructor(api) {
    this.api = api;
  }

  async refresh() {
    const data = await this.api.request(ONCALL_NOW);
    fill(byId("oncall-list"), data.oncallNow.map(shiftItem), byId("oncall-empty"));
    return data.oncallNow;
  }
}

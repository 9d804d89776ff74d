/*
 * A chart of `signalSeries` for a chosen service and signal, drawn with uPlot.
 * The services come from `observabilityOverview`, a service's signal names from
 * its newest samples; the range picks the step so that a chart has ~180 points.
 */

import { byId, h } from "./dom.js";

const SERVICES = `query DashboardServices { observabilityOverview { services { service } } }`;
const SIGNAL_NAMES = `
query DashboardSignalNames($service: String!) {
  signals(filter: { service: $service }, first: 200) { edges { node { name } } }
}`;
const SERIES = `
query DashboardSeries($service: String!, $name: String!, $from: DateTime!, $to: DateTime!, $step: Int!, $aggregate: Aggregate!) {
  signalSeries(service: $service, name: $name, from: $from, to: $to, step: $step, aggregate: $aggregate) { ts value count }
}`;
const POINTS = 180;
const PREFERRED_SIGNALS = ["latency_ms", "http_requests_total"];

function options(select, values, preferred) {
  const current = select.value;
  select.replaceChildren(...values.map((value) => h("option", { value }, value)));
  const keep = values.includes(current) ? current : preferred.find((value) => values.includes(value));
  if (keep) {
    select.value = keep;
  }
}

export class SeriesPanel {
  /** `onChange` is called when the person picks another series: refresh soon. */
  constructor(api, { onChange }) {
    this.api = api;
    this.plot = null;
    this.namesOf = null; // the service whose signal names are listed
    this.service = byId("series-service");
    this.name = byId("series-name");
    this.aggregate = byId("series-aggregate");
    this.range = byId("series-range");
    for (const control of [this.service, this.name, this.aggregate, this.range]) {
      control.onchange = onChange;
    }
    window.onresize = () => this.resize();
  }

  async loadServices() {
    const data = await this.api.request(SERVICES);
    const services = data.observabilityOverview.services.map((each) => each.service);
    options(this.service, services, services);
  }

  async loadNames() {
    const service = this.service.value;
    const data = await this.api.request(SIGNAL_NAMES, { service });
    const names = [...new Set(data.signals.edges.map(({ node }) => node.name))].sort();
    options(this.name, names, [...PREFERRED_SIGNALS, ...names]);
    this.namesOf = service;
  }

  async refresh() {
    if (!this.service.options.length) {
      await this.loadServices();
    }
    if (this.service.value && this.namesOf !== this.service.value) {
      await this.loadNames();
    }
    if (!this.service.value || !this.name.value) {
      this.draw([[], []]);
      return [];
    }
    const seconds = Number(this.range.value);
    const to = new Date();
    const from = new Date(to.getTime() - seconds * 1000);
    const step = Math.max(60, Math.round(seconds / POINTS / 60) * 60);
    const data = await this.api.request(SERIES, {
      service: this.service.value,
      name: this.name.value,
      from: from.toISOString(),
      to: to.toISOString(),
      step,
      aggregate: this.aggregate.value,
    });
    const points = data.signalSeries;
    this.draw([points.map((p) => Date.parse(p.ts) / 1000), points.map((p) => p.value)]);
    return points;
  }

  draw(columns) {
    byId("chart-empty").hidden = columns[0].length > 0;
    const label = `${this.name.value || "signal"} (${this.aggregate.value})`;
    if (this.plot !== null && this.plot.series[1].label === label) {
      this.plot.setData(columns);
      return;
    }
    if (this.plot !== null) {
      this.plot.destroy();
    }
    const container = byId("chart");
    this.plot = new window.uPlot(
      {
        width: Math.max(300, container.clientWidth),
        height: 240,
        series: [{}, { label, stroke: "#0969da", width: 2, spanGaps: false }],
        axes: [{}, { size: 60 }],
      },
      columns,
      container,
    );
  }

  resize() {
    if (this.plot !== null) {
      this.plot.setSize({ width: Math.max(300, byId("chart").clientWidth), height: 240 });
    }
  }
}

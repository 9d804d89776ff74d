/*
 * The example operations the playground opens with, one tab each, in this order.
 * README.md ("The playground") lists them; keep both in step.
 */
"use strict";

window.OPSGRAPH_PLAYGROUND_EXAMPLES = [
  {
    query: `# Who am I: the key's role and workspace (paste a key in the bar above first).
query Me {
  me {
    keyName
    role
    permissions
    workspace { id name }
  }
}
`,
  },
  {
    query: `# Every SLO policy's newest state: status, budget left, fastest burn.
query SloOverview {
  sloOverview {
    policies {
      policy { id service name objective windowDays }
      status
      errorBudgetRemaining
      fastestBurn { window rate }
      evaluatedAt
    }
  }
}
`,
  },
  {
    query: `# Open alerts, newest first, a page at a time (pass pageInfo.endCursor as $after).
query OpenAlerts($after: String) {
  alerts(filter: { status: [FIRING, ACKNOWLEDGED] }, first: 20, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id service severity status summary occurrenceCount lastFiredAt } }
  }
}
`,
  },
  {
    query: `# A signal as a series of buckets (set the times to the last hour in Variables).
query Series($service: String!, $name: String!, $from: DateTime!, $to: DateTime!) {
  signalSeries(service: $service, name: $name, from: $from, to: $to, step: 300, aggregate: P95) {
    ts
    value
    count
  }
}
`,
    variables: `{
  "service": "checkout",
  "name": "latency_ms",
  "from": "2026-01-01T00:00:00Z",
  "to": "2026-01-01T01:00:00Z"
}
`,
  },
  {
    query: `# Who is on call right now, in every schedule.
query OnCallNow {
  oncallNow { schedule person contact startsAt endsAt source }
}
`,
  },
  {
    query: `# Raise an alert (developer or admin key); raising it again deduplicates it.
mutation RaiseAlert($input: AlertInput!) {
  raiseAlert(input: $input) { id status occurrenceCount }
}
`,
    variables: `{
  "input": {
    "service": "checkout",
    "summary": "5xx above 2 %",
    "severity": "PAGE",
    "labels": { "alertname": "HighErrorRate", "region": "eu-1" }
  }
}
`,
  },
  {
    query: `# Acknowledge an alert by its id (developer or admin key).
mutation Acknowledge($id: ID!) {
  acknowledgeAlert(id: $id) { id status acknowledgedAt acknowledgedBy }
}
`,
    variables: `{ "id": "1" }
`,
  },
  {
    query: `# Alert and SLO events, live over graphql-transport-ws; give $after to replay from a cursor.
subscription AlertFeed($after: String) {
  alertEvents(after: $after) { cursor type occurredAt payload }
}
`,
  },
];

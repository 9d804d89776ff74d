/*
 * GraphQL over HTTP to this server's /graphql, and the errors a person must see.
 *
 * Every failure becomes an ApiError whose `kind` says what to do about it:
 * "unauthenticated" (the key is refused: ask for another), "forbidden",
 * "rate_limited" and "unavailable" (wait `retryAfter` seconds and try again),
 * "invalid" (a request the server refused as such).
 */

export const GRAPHQL_URL = new URL("/graphql", window.location.href);

export class ApiError extends Error {
  constructor(kind, message, { code = null, retryAfter = null } = {}) {
    super(message);
    this.kind = kind;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  get retryable() {
    return this.kind === "rate_limited" || this.kind === "unavailable";
  }
}

const KIND_OF_CODE = {
  UNAUTHENTICATED: "unauthenticated",
  FORBIDDEN: "forbidden",
  RATE_LIMITED: "rate_limited",
  SERVICE_UNAVAILABLE: "unavailable",
  INTERNAL: "unavailable",
};

function retryAfterOf(response, fallback) {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds : fallback;
}

function errorOfBody(body, response) {
  const first = body.errors[0];
  const code = (first.extensions && first.extensions.code) || null;
  const kind = KIND_OF_CODE[code] || "invalid";
  const retryAfter = kind === "rate_limited" || kind === "unavailable" ? retryAfterOf(response, 5) : null;
  const message = body.errors.map((error) => error.message).join("; ");
  return new ApiError(kind, code ? `${code}: ${message}` : message, { code, retryAfter });
}

export class Api {
  constructor(key) {
    this.key = key;
  }

  /** The `data` of a query or mutation; throws ApiError on any error. */
  async request(query, variables = {}) {
    let response;
    try {
      response = await fetch(GRAPHQL_URL, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json, application/json",
          Authorization: `Bearer ${this.key}`,
        },
        body: JSON.stringify({ query, variables }),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError("unavailable", `cannot reach ${GRAPHQL_URL.origin} (${error.message})`, {
        retryAfter: 3,
      });
    }
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("json")) {
      const text = (await response.text()).slice(0, 200);
      const kind = response.status === 429 ? "rate_limited" : response.status >= 500 ? "unavailable" : "invalid";
      throw new ApiError(kind, `HTTP ${response.status} ${text || response.statusText}`, {
        retryAfter: retryAfterOf(response, 5),
      });
    }
    const body = await response.json();
    if (body.errors && body.errors.length > 0) {
      throw errorOfBody(body, response);
    }
    if (!response.ok) {
      throw new ApiError("unavailable", `HTTP ${response.status}`, { retryAfter: retryAfterOf(response, 5) });
    }
    return body.data;
  }
}

/** What the person reads for an error, with what the page is doing about it. */
export function describeError(error) {
  if (!(error instanceof ApiError)) {
    return `Unexpected error: ${error.message || error}`;
  }
  switch (error.kind) {
    case "unauthenticated":
      return `The API key was refused (${error.message}). Paste a valid key.`;
    case "forbidden":
      return `This key may not do that (${error.message}).`;
    case "rate_limited":
      return `Rate limited by the server: retrying in ${error.retryAfter} s (${error.message}).`;
    case "unavailable":
      return `The server is unavailable: retrying in ${error.retryAfter} s (${error.message}).`;
    default:
      return error.message;
  }
}

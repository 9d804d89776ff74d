/*
 * The opsgraph playground: GraphiQL with the explorer plugin, all served by opsgraph.
 *
 * The API key pasted in the bar is kept in this browser's localStorage and sent
 * only to this server's /graphql: as "Authorization: Bearer <key>" over HTTP, and
 * in the connection_init payload of the websocket (graphql-transport-ws), which is
 * where opsgraph reads it. A header typed in GraphiQL's Headers pane wins over it.
 */
"use strict";

(function playground() {
  const KEY_STORAGE = "opsgraph.apiKey";
  const HTTP_URL = new URL("/graphql", window.location.href);
  const WS_URL = new URL(HTTP_URL);
  WS_URL.protocol = HTTP_URL.protocol === "https:" ? "wss:" : "ws:";

  const keyForm = document.getElementById("key-form");
  const keyInput = document.getElementById("api-key");
  const keyStatus = document.getElementById("key-status");
  let socket = null;

  function storedKey() {
    return window.localStorage.getItem(KEY_STORAGE) || "";
  }

  function showKeyStatus() {
    const key = storedKey();
    keyStatus.textContent = key
      ? `using key ${key.slice(0, 8)}…`
      : "no key: paste one to run operations";
    keyStatus.classList.toggle("is-missing", !key);
  }

  function useKey(key) {
    if (key) {
      window.localStorage.setItem(KEY_STORAGE, key);
    } else {
      window.localStorage.removeItem(KEY_STORAGE);
    }
    if (socket !== null) {
      socket.dispose(); // the next subscription connects with the new key
      socket = null;
    }
    showKeyStatus();
  }

  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    useKey(keyInput.value.trim());
    keyInput.value = "";
  });
  document.getElementById("forget-key").addEventListener("click", () => useKey(""));

  function authorization() {
    const key = storedKey();
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  function websocket() {
    if (socket === null) {
      socket = window.graphqlWs.createClient({
        url: WS_URL.href,
        lazy: true,
        retryAttempts: 0,
        connectionParams: authorization,
      });
    }
    return socket;
  }

  /*
   * The operation to run, read from the query text itself: GraphiQL's operation
   * name and parsed document can lag a quick edit by a moment. A stale name is
   * dropped when the text holds one operation; text that does not parse goes to
   * the server as it is, which says what is wrong with it.
   */
  function operationOf(params) {
    let document;
    try {
      document = window.GraphiQL.GraphQL.parse(params.query);
    } catch (error) {
      return { request: params, subscription: false };
    }
    const operations = document.definitions.filter((d) => d.kind === "OperationDefinition");
    const named = operations.find((d) => d.name && d.name.value === params.operationName);
    const chosen = named || (operations.length === 1 ? operations[0] : null);
    const request = { ...params };
    if (!named && chosen !== null) {
      request.operationName = chosen.name ? chosen.name.value : undefined;
    }
    return { request, subscription: chosen !== null && chosen.operation === "subscription" };
  }

  function closeReason(error) {
    if (error && typeof error.code === "number") {
      const reason = error.reason ? `: ${error.reason}` : "";
      return `the websocket closed with ${error.code}${reason}`;
    }
    if (Array.isArray(error)) {
      return error.map((item) => item.message).join("; ");
    }
    return error instanceof Error ? error.message : String(error);
  }

  async function* subscribe(params) {
    try {
      yield* websocket().iterate(params);
    } catch (error) {
      yield { errors: [{ message: closeReason(error) }] };
    }
  }

  async function post(params, options) {
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
      ...authorization(),
      ...((options && options.headers) || {}),
    };
    let response;
    try {
      response = await fetch(HTTP_URL, {
        method: "POST",
        headers,
        body: JSON.stringify(params),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      return { errors: [{ message: `cannot reach ${HTTP_URL.origin}: ${error.message}` }] };
    }
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) {
      return response.json();
    }
    const text = await response.text();
    return { errors: [{ message: `HTTP ${response.status}: ${text || response.statusText}` }] };
  }

  function fetcher(params, options) {
    const { request, subscription } = operationOf(params);
    return subscription ? subscribe(request) : post(request, options);
  }

  function render() {
    const explorer = window.GraphiQLPluginExplorer.explorerPlugin();
    const examples = window.OPSGRAPH_PLAYGROUND_EXAMPLES;
    const graphiql = window.React.createElement(window.GraphiQL, {
      fetcher,
      plugins: [explorer],
      defaultTabs: examples,
      defaultQuery: examples[0].query,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    });
    window.ReactDOM.createRoot(document.getElementById("graphiql")).render(graphiql);
  }

  showKeyStatus();
  render();
})();

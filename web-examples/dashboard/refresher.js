/*
 * Keeps one panel fresh: runs its refresh now, then every `every` seconds; an
 * error is shown, and a rate limit or an outage is retried after the wait the
 * server asked for. poke() refreshes soon (debounced), e.g. when an event arrives.
 */

export class Refresher {
  constructor(name, refresh, { every, problems, onRefused }) {
    this.name = name;
    this.refresh = refresh;
    this.every = every;
    this.problems = problems;
    this.onRefused = onRefused;
    this.timer = null;
    this.running = false;
    this.again = false;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.run();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  poke() {
    if (this.stopped) {
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), 300);
  }

  async run() {
    if (this.stopped) {
      return;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = true;
    let wait = this.every;
    try {
      await this.refresh();
      this.problems.clear(this.name);
    } catch (error) {
      this.problems.show(this.name, error);
      if (error.kind === "unauthenticated") {
        this.onRefused(error);
      } else if (error.retryable) {
        wait = error.retryAfter;
      }
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      wait = 0;
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => this.run(), wait * 1000);
    }
  }
}

/** The banner of current problems, one line per source, cleared when the source recovers. */
export class Problems {
  constructor(element, describe) {
    this.element = element;
    this.describe = describe;
    this.messages = new Map();
  }

  show(source, error) {
    this.messages.set(source, this.describe(error));
    this.render();
  }

  clear(source) {
    if (this.messages.delete(source)) {
      this.render();
    }
  }

  clearAll() {
    this.messages.clear();
    this.render();
  }

  render() {
    const lines = [...new Set(this.messages.values())];
    this.element.replaceChildren(...lines.map((line) => Object.assign(document.createElement("div"), { textContent: line })));
    this.element.hidden = lines.length === 0;
  }
}

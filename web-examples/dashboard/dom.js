/* Small DOM helpers: elements are built from text, never from HTML strings. */

/** An element with attributes (`class`, `data-*`, properties like `disabled`) and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name === "class") {
      element.className = value;
    } else if (name.startsWith("data-") || name.startsWith("aria-")) {
      element.setAttribute(name, String(value));
    } else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else {
      element[name] = value;
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child instanceof Node ? child : String(child));
    }
  }
  return element;
}

export function byId(id) {
  return document.getElementById(id);
}

/** Replace an element's children; show `empty` (an element) when there are none. */
export function fill(container, rows, empty = null) {
  container.replaceChildren(...rows);
  if (empty !== null) {
    empty.hidden = rows.length > 0;
  }
}

export function percent(ratio, digits = 1) {
  return ratio === null || ratio === undefined ? "–" : `${(ratio * 100).toFixed(digits)} %`;
}

const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "3 minutes ago", "in 2 hours": for times near now. */
export function relativeTime(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) {
      return RELATIVE.format(Math.round(seconds / size), unit);
    }
  }
  return RELATIVE.format(Math.round(seconds), "second");
}

export function clockTime(iso) {
  return new Date(iso).toLocaleTimeString("en-GB", { hour12: false });
}

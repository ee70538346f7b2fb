// The dashboard's small shared pieces: finding and building elements, number format,
// the connection badge, and the server's clock (ages and elapsed times are counted on
// it, so a viewer whose clock is off still sees "12 s ago" for something 12 s old).

export const $ = (id) => document.getElementById(id);
export const number = new Intl.NumberFormat();

let clockOffsetMs = 0; // server clock minus ours, from `ping`

export function setClockOffset(ms) {
  clockOffsetMs = ms;
}

export function serverNow() {
  return Date.now() + clockOffsetMs;
}

export function el(tag, cls, text, attrs) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== null && text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

export function elapsed(startedMs) {
  const s = Math.max(0, Math.floor((serverNow() - startedMs) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function ago(ts) {
  const s = Math.max(0, Math.floor((serverNow() - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

// Rows carry their start or timestamp; one timer moves every clock on the page.
export function tickClocks() {
  for (const node of document.querySelectorAll("[data-started-ms]")) {
    node.textContent = elapsed(Number(node.dataset.startedMs));
  }
  for (const node of document.querySelectorAll("[data-ts]")) node.textContent = ago(Number(node.dataset.ts));
}

export function setStatus(kind, label) {
  const box = $("conn-status");
  box.dataset.state = kind;
  box.querySelector(".label").textContent = label;
}

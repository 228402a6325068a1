// Loading uPlot, which make copies from npm into the manager's embedded
// assets. A manager built without it (go build in a fresh clone) serves a
// 404 for these files; the charts then say so instead of drawing.

let loading = null;

/** loadUPlot resolves to the uPlot constructor, or null when it is missing. */
export function loadUPlot() {
  loading ??= new Promise((resolve) => {
    if (window.uPlot) {
      resolve(window.uPlot);
      return;
    }
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = '/ui/npm/uPlot.min.css';
    const script = document.createElement('script');
    script.src = '/ui/npm/uPlot.iife.min.js';
    script.onload = () => resolve(window.uPlot || null);
    script.onerror = () => {
      css.remove();
      resolve(null);
    };
    document.head.append(css, script);
  });
  return loading;
}

/** colors reads the chart colours of the current colour scheme from CSS. */
export function colors() {
  const style = getComputedStyle(document.documentElement);
  const v = (name) => style.getPropertyValue(name).trim();
  return { series: [v('--series-1'), v('--series-2'), v('--series-3'), v('--series-4')], fill: v('--series-1-fill'), axis: v('--muted'), grid: v('--grid'), event: v('--event') || '#b45309' };
}

// Tick increments for byte axes: 1, 2, 5 × powers of 1024, so ticks read
// "512 MiB", "1 GiB" rather than "1.07 GB".
export const byteIncrs = [];
for (let k = 0; k <= 5; k++) {
  for (const m of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) byteIncrs.push(m * 1024 ** k);
}

// Human units: IEC sizes (KiB, MiB, GiB), byte rates, percentages, ages.
// Absent figures read as an em dash, never as 0.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export const NONE = '—';

const present = (v) => typeof v === 'number' && Number.isFinite(v);

/** bytes formats a size: 1536 → "1.5 KiB". */
export function bytes(v) {
  if (!present(v)) return NONE;
  let i = 0;
  let n = Math.abs(v);
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  const digits = i === 0 || n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${v < 0 ? '-' : ''}${n.toFixed(digits)} ${UNITS[i]}`;
}

/** kib formats a size given in KiB, as /proc and the API give memory. */
export const kib = (v) => (present(v) ? bytes(v * 1024) : NONE);

/** rate formats bytes per second: 2048 → "2.00 KiB/s". */
export const rate = (v) => (present(v) ? `${bytes(v)}/s` : NONE);

/** percent: 12.345 → "12.3 %". */
export const percent = (v) => (present(v) ? `${v.toFixed(v >= 100 ? 0 : 1)} %` : NONE);

/** ago formats how long ago a Unix-ms moment was: "4 s ago". */
export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** duration formats seconds of uptime: "3 d 4 h", "5 min 2 s". */
export function duration(s) {
  if (!present(s)) return NONE;
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hrs} h`;
  if (hrs) return `${hrs} h ${min} min`;
  return `${min} min ${Math.floor(s % 60)} s`;
}

/** time formats a Unix-ms moment as local time. */
export const time = (ms) => (ms ? new Date(ms).toLocaleString() : NONE);

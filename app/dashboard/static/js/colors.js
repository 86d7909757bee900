// Colour maps: perceptually ordered sequential scales for scores and fields, a categorical set for series.

const VIRIDIS = ['#440154', '#482878', '#3e4a89', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];
const INFERNO = ['#000004', '#1b0c41', '#4a0c6b', '#781c6d', '#a52c60', '#cf4446', '#ed6925', '#fb9b06', '#f7d13d', '#fcffa4'];
export const SERIES = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];

function parse(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function ramp(stops) {
  const rgb = stops.map(parse);
  const cache = new Array(256);
  for (let i = 0; i < 256; i += 1) {
    const t = (i / 255) * (rgb.length - 1);
    const k = Math.min(rgb.length - 2, Math.floor(t));
    const f = t - k;
    cache[i] = rgb[k].map((c, j) => Math.round(c + f * (rgb[k + 1][j] - c)));
  }
  const fn = (t) => {
    const c = cache[Math.max(0, Math.min(255, Math.round((Number.isFinite(t) ? t : 0) * 255)))];
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  };
  fn.rgb = (t) => cache[Math.max(0, Math.min(255, Math.round((Number.isFinite(t) ? t : 0) * 255)))];
  fn.stops = stops;
  return fn;
}

export const viridis = ramp(VIRIDIS);
export const inferno = ramp(INFERNO);

// Score colour: low error (good) is bright, high error dark, on a log scale between the campaign's extremes.
export function logScale(values) {
  const logs = values.filter((v) => v !== null && v !== undefined && v > 0 && Number.isFinite(v)).map(Math.log10);
  if (!logs.length) return null;
  let lo = Math.min(...logs);
  let hi = Math.max(...logs);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  return { lo, hi, t: (v) => (v > 0 ? 1 - (Math.log10(v) - lo) / (hi - lo) : 0) };
}

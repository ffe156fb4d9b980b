/**
 * Deterministic output: CSV tables, canonical JSON and hand-written SVG line charts.
 * Same input ⇒ same bytes: fixed element ids, fixed number formatting, no timestamps.
 * (No plotting package is installed; plain string templates keep this dependency-free.)
 */

/** Numbers in tables and plots: at most 10 significant digits, no exponent noise for integers. */
export function fmt (x: number | null): string {
  if (x === null || !Number.isFinite(x)) return ''
  if (Number.isInteger(x)) return String(x)
  return String(Number(x.toPrecision(10)))
}

export function csv (header: readonly string[], rows: ReadonlyArray<ReadonlyArray<number | string | null>>): string {
  const cell = (v: number | string | null): string => typeof v === 'string'
    ? (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v)
    : fmt(v)
  return [header.join(','), ...rows.map(r => r.map(cell).join(','))].join('\n') + '\n'
}

/** JSON with sorted keys is not needed (we build objects in a fixed order); 2-space indent, trailing newline. */
export function json (v: unknown): string {
  return JSON.stringify(v, null, 2) + '\n'
}

export interface Series {
  name: string
  points: ReadonlyArray<readonly [number, number]>
  /** Draw as a step function (CDFs). */
  step?: boolean
  dashed?: boolean
}

export interface ChartSpec {
  /** Fixed id prefix for every element (must be unique per file). */
  id: string
  title: string
  xLabel: string
  yLabel: string
  series: readonly Series[]
  yMin?: number
  yMax?: number
}

const W = 640
const H = 400
const M = { left: 64, right: 160, top: 40, bottom: 52 }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f']
const TICKS = 5

function esc (s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
}

/** "Nice" tick step for a range (1, 2 or 5 × 10^k). */
function niceStep (span: number): number {
  if (!(span > 0)) return 1
  const raw = span / TICKS
  const p = 10 ** Math.floor(Math.log10(raw))
  const m = raw / p
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
}

function ticks (lo: number, hi: number): number[] {
  const step = niceStep(hi - lo)
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

export function lineChart (c: ChartSpec): string {
  const all = c.series.flatMap(s => s.points)
  let xMin = Math.min(...all.map(p => p[0])); let xMax = Math.max(...all.map(p => p[0]))
  let yMin = c.yMin ?? Math.min(0, ...all.map(p => p[1])); let yMax = c.yMax ?? Math.max(...all.map(p => p[1]))
  if (all.length === 0) { xMin = 0; xMax = 1; yMin = 0; yMax = 1 }
  if (xMax === xMin) { xMax = xMin + 1 }
  if (yMax === yMin) { yMax = yMin + 1 }
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const sx = (x: number): string => fmt(Math.round((M.left + (x - xMin) / (xMax - xMin) * pw) * 100) / 100)
  const sy = (y: number): string => fmt(Math.round((M.top + ph - (y - yMin) / (yMax - yMin) * ph) * 100) / 100)
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" id="${c.id}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect id="${c.id}-bg" x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`)
  parts.push(`<text id="${c.id}-title" x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(c.title)}</text>`)
  parts.push(`<g id="${c.id}-axes" stroke="#000000" fill="none">`)
  parts.push(`<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}"/>`)
  parts.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}"/>`)
  parts.push('</g>')
  parts.push(`<g id="${c.id}-ticks" fill="#000000">`)
  for (const t of ticks(xMin, xMax)) parts.push(`<text x="${sx(t)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`)
  for (const t of ticks(yMin, yMax)) parts.push(`<text x="${M.left - 6}" y="${sy(t)}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`)
  parts.push('</g>')
  parts.push(`<text id="${c.id}-xlabel" x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(c.xLabel)}</text>`)
  parts.push(`<text id="${c.id}-ylabel" x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">${esc(c.yLabel)}</text>`)
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const pts: string[] = []
    s.points.forEach(([x, y], j) => {
      if (s.step === true && j > 0) pts.push(`${sx(x)},${sy(s.points[j - 1][1])}`)
      pts.push(`${sx(x)},${sy(y)}`)
    })
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : ''
    parts.push(`<polyline id="${c.id}-s${i}" fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`)
    const ly = M.top + 14 + i * 18
    parts.push(`<g id="${c.id}-legend${i}"><line x1="${W - M.right + 12}" y1="${ly}" x2="${W - M.right + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/><text x="${W - M.right + 42}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text></g>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

// progress.ts — a one-line progress bar on a terminal (step, loss, tokens/s, ETA), or a plain line every
// few seconds when stderr is not a terminal (CI logs), so long stages always show they are alive.

export class Progress {
  private readonly start = performance.now();
  private lastPrint = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly label: string, private readonly total: number, private readonly quiet = false) {}

  update(step: number, fields: Record<string, string | number>): void {
    if (this.quiet) return;
    const now = performance.now();
    const done = step >= this.total;
    if (!this.tty && !done && now - this.lastPrint < 5000) return;
    this.lastPrint = now;
    const elapsed = (now - this.start) / 1000;
    const eta = step > 0 ? (elapsed / step) * (this.total - step) : NaN;
    const parts = Object.entries(fields).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`);
    const line = `[${this.label}] ${step}/${this.total} ${parts.join('  ')}  ${Number.isFinite(eta) ? 'ETA ' + dur(eta) : ''}`;
    if (this.tty) process.stderr.write(`\r${line.padEnd(100).slice(0, Math.max(100, line.length))}${done ? '\n' : ''}`);
    else process.stderr.write(line + '\n');
  }

  /** Something the user must see even with `quiet` (data trimmed, a fallback taken): always printed. */
  notice(msg: string): void {
    process.stderr.write(`${this.tty ? '\r\x1b[K' : ''}[${this.label}] notice: ${msg}\n`);
  }

  log(msg: string): void {
    if (this.quiet) return;
    process.stderr.write(`${this.tty ? '\r\x1b[K' : ''}[${this.label}] ${msg}\n`);
  }
}

function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-2 || a >= 1e4) ? v.toExponential(2) : v.toFixed(3);
}

export function dur(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

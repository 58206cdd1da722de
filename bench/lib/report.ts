import { cpus, totalmem } from 'node:os';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';

export interface Figure {
  /** Short name of the figure, as in the table. */
  name: string;
  /** The measured value, formatted for people. */
  measured: string;
  /** The target, formatted; '—' for figures without one. */
  target: string;
  /** true/false against the target; null for figures without one. */
  met: boolean | null;
  /** The raw numbers behind it. */
  values: Record<string, number | string | null>;
}

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  database: string;
}

export function describeMachine(database: string): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':')[1]?.trim() ?? cpu;
  } catch {
    // not Linux: keep os.cpus()
  }
  return {
    nproc: availableParallelism(),
    cpu,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    database,
  };
}

export const ms = (value: number): string => (value >= 100 ? `${value.toFixed(0)} ms` : value >= 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(2)} ms`);
export const perSecond = (value: number): string => `${value.toFixed(value >= 100 ? 0 : 1)}/s`;
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const ratio = (value: number): string => `${value.toFixed(2)}×`;
export const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;

/** The figures as a plain-text table: figure, measured, target, verdict. */
export function renderTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [f.name, f.measured, f.target, f.met === null ? '' : f.met ? 'met' : 'NOT MET']);
  const header = ['figure', 'measured', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The same table as Markdown, for the README. */
export function renderMarkdown(figures: readonly Figure[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| figure | measured | target | |',
    '| --- | --- | --- | --- |',
    ...figures.map((f) => `| ${esc(f.name)} | ${esc(f.measured)} | ${esc(f.target)} | ${f.met === null ? '' : f.met ? 'met' : '**not met**'} |`),
  ].join('\n');
}

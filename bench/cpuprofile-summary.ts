/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof` or the inspector's Profiler):
 * self time by package or source file, the top functions by self time, and the
 * inclusive time of every function (counted once per sample, so recursion does not
 * inflate it).
 *
 *   npx tsx bench/cpuprofile-summary.ts bench/profiles/ours.cpuprofile [--top 25]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time, ms (idle included). */
  totalMs: number;
  /** Sampled time not idle, ms. */
  busyMs: number;
  byArea: { area: string; ms: number }[];
  selfTop: { fn: string; ms: number }[];
  inclusiveTop: { fn: string; ms: number }[];
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where a frame's code lives: a package, one of our source files, node internals or a V8 pseudo-frame. */
function areaOf(f: CallFrame): string {
  const url = f.url;
  if (!url) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const file = url.replace(/^file:\/\//, '');
  return path.relative(ROOT, file) || file;
}

function nameOf(f: CallFrame): string {
  const where = f.url ? `${areaOf(f)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'}${where ? ' ' + where : ''}`;
}

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const area = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000; // µs -> ms; delta i+1 is this sample's span
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    total += dt;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const key = nameOf(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const a = areaOf(node.callFrame);
    area.set(a, (area.get(a) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = nameOf(byId.get(id)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const sorted = (m: Map<string, number>, n: number) =>
    [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, n);
  return {
    totalMs: total,
    busyMs: total - idle,
    byArea: sorted(area, top).map(([a, ms]) => ({ area: a, ms })),
    selfTop: sorted(self, top).map(([fn, ms]) => ({ fn, ms })),
    inclusiveTop: sorted(incl, top)
      .filter(([fn]) => fn !== '(root)')
      .map(([fn, ms]) => ({ fn, ms })),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const pct = (ms: number) => `${((100 * ms) / s.busyMs).toFixed(1).padStart(5)}%`;
  const lines = [`sampled ${s.totalMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (percentages are of busy time)`, '', 'self time by area:'];
  for (const r of s.byArea) lines.push(`  ${pct(r.ms)}  ${r.area}`);
  lines.push('', 'top functions, self time:');
  for (const r of s.selfTop) lines.push(`  ${pct(r.ms)}  ${r.fn}`);
  lines.push('', 'top functions, inclusive time:');
  for (const r of s.inclusiveTop) lines.push(`  ${pct(r.ms)}  ${r.fn}`);
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
  if (positionals.length === 0) {
    console.error('usage: tsx bench/cpuprofile-summary.ts <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  for (const file of positionals) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    console.log(`== ${file}`);
    console.log(formatSummary(summarise(profile, Number(values.top))));
  }
}

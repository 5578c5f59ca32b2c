/**
 * The fuzz suite's judge: runs one case with a time bound and sorts its end into
 *   ok            a result that passed the category's correctness oracle
 *   clear-error   an Error whose message names the input (or field) and the problem
 *   unclear-error any other Error (TypeError from deep inside, a stack-ish or empty message)
 *   garbage       a result the oracle refuses (accepted silently although wrong)
 *   crash         a throw that is not an Error, or the engine's own limits breaking
 *                 (stack overflow, invalid array length, out of memory)
 *   hang          no end within the time bound
 */

export type Outcome = 'ok' | 'clear-error' | 'unclear-error' | 'garbage' | 'crash' | 'hang';
export const OUTCOMES: readonly Outcome[] = ['ok', 'clear-error', 'unclear-error', 'garbage', 'crash', 'hang'];

export interface CaseResult {
  outcome: Outcome;
  /** The message, or the oracle's complaint. */
  detail: string;
  ms: number;
}

export interface Judge {
  /** The message must match this (the input's name, a field path…) to count as clear. */
  names: RegExp;
  /** Checks an accepted result; returns a complaint when it is garbage. */
  oracle?: (result: unknown) => string | null;
}

const ENGINE_LIMITS = /Maximum call stack size exceeded|Invalid array length|Array buffer allocation failed|out of memory|Invalid typed array length|allocation size overflow/i;
const INTERNAL = /Cannot read propert|is not a function|is not iterable|(undefined|null) is not an object|Cannot convert|is not defined|Cannot destructure/i;

export function judgeError(e: unknown, judge: Judge): Omit<CaseResult, 'ms'> {
  if (!(e instanceof Error)) return { outcome: 'crash', detail: `threw a non-Error: ${String(e)}` };
  const msg = e.message ?? '';
  if (ENGINE_LIMITS.test(msg)) return { outcome: 'crash', detail: `${e.name}: ${msg}` };
  const internalName = e.name === 'TypeError' || e.name === 'ReferenceError' || e.name === 'RangeError';
  if (internalName || INTERNAL.test(msg) || msg.trim() === '' || msg.length > 2000 || !judge.names.test(msg)) {
    return { outcome: 'unclear-error', detail: `${e.name}: ${msg.slice(0, 300)}` };
  }
  return { outcome: 'clear-error', detail: msg.slice(0, 300) };
}

/** Runs one case under a time bound (a synchronous hang can't be interrupted in-process: keep cases bounded by size). */
export async function runCase(fn: () => unknown | Promise<unknown>, judge: Judge, timeoutMs: number): Promise<CaseResult> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((res) => {
    timer = setTimeout(() => res('timeout'), timeoutMs);
  });
  try {
    const r = await Promise.race([Promise.resolve().then(fn), timeout]);
    const ms = performance.now() - t0;
    if (r === 'timeout') return { outcome: 'hang', detail: `no end within ${timeoutMs} ms`, ms };
    // A synchronous case that overran its bound still counts as a hang.
    if (ms > timeoutMs) return { outcome: 'hang', detail: `took ${Math.round(ms)} ms (bound ${timeoutMs} ms)`, ms };
    const complaint = judge.oracle?.(r) ?? null;
    return complaint ? { outcome: 'garbage', detail: complaint, ms } : { outcome: 'ok', detail: '', ms };
  } catch (e) {
    const ms = performance.now() - t0;
    if (ms > timeoutMs) return { outcome: 'hang', detail: `failed only after ${Math.round(ms)} ms`, ms };
    return { ...judgeError(e, judge), ms };
  } finally {
    clearTimeout(timer);
  }
}

export type Table = Record<string, Record<Outcome, number>>;

export function emptyRow(): Record<Outcome, number> {
  return { ok: 0, 'clear-error': 0, 'unclear-error': 0, garbage: 0, crash: 0, hang: 0 };
}

/** Markdown table: category × outcome, with a total row. */
export function formatTable(t: Table): string {
  const head = `| category | cases | ${OUTCOMES.join(' | ')} |\n|---|---:|${OUTCOMES.map(() => '---:').join('|')}|`;
  const total = emptyRow();
  const rows = Object.entries(t).map(([cat, r]) => {
    const n = OUTCOMES.reduce((s, o) => s + r[o], 0);
    for (const o of OUTCOMES) total[o] += r[o];
    return `| ${cat} | ${n} | ${OUTCOMES.map((o) => r[o]).join(' | ')} |`;
  });
  const n = OUTCOMES.reduce((s, o) => s + total[o], 0);
  return [head, ...rows, `| **total** | ${n} | ${OUTCOMES.map((o) => total[o]).join(' | ')} |`].join('\n');
}

import { useMemo } from 'react';
import { Cell, Pie, PieChart, ResponsiveContainer, Tooltip } from 'recharts';
import { rootVerbNoun, verbNounCounts, type VerbNoun } from '../../selfspec/verbs';

// Parsing an instruction (compromise) is the costly part: each text is parsed once per page.
const parsed = new Map<string, VerbNoun | null>();
function verbNoun(text: string): VerbNoun | null {
  let v = parsed.get(text);
  if (v === undefined) {
    v = rootVerbNoun(text);
    parsed.set(text, v);
  }
  return v;
}

const RAD = Math.PI / 180;

/** Verb labels inside the inner ring (outside, they would sit on the object ring). */
function innerLabel(p: { cx?: number; cy?: number; midAngle?: number; outerRadius?: number; name?: string; percent?: number }) {
  const { cx = 0, cy = 0, midAngle = 0, outerRadius = 0, name = '', percent = 0 } = p;
  if (percent < 0.04) return null;
  const r = outerRadius * 0.62;
  return (
    <text x={cx + r * Math.cos(-midAngle * RAD)} y={cy + r * Math.sin(-midAngle * RAD)} fill="#fff" fontSize={12} fontWeight={600} textAnchor="middle" dominantBaseline="central">
      {name}
    </text>
  );
}

const hue = (i: number, n: number) => Math.round((360 * i) / Math.max(1, n));

/**
 * The paper's Fig. 7: root verbs of the accepted instructions (inner ring) and their most common
 * direct objects (outer ring), growing as instructions are accepted.
 */
export function VerbRings({ texts }: { texts: string[] }) {
  const summary = useMemo(() => verbNounCounts(texts.map(verbNoun), { maxVerbs: 12, maxNouns: 4 }), [texts]);
  const inner = summary.verbs.map((v, i) => ({ name: v.verb, value: v.count, fill: `hsl(${hue(i, summary.verbs.length)} 60% 48%)` }));
  // The outer ring follows the inner one: a verb's objects, then the rest of its count unlabelled.
  const outer = summary.verbs.flatMap((v, i) => {
    const h = hue(i, summary.verbs.length);
    const nouns = v.nouns.map((n, j) => ({ name: `${v.verb} ${n.noun}`, value: n.count, fill: `hsl(${h} 55% ${66 + 6 * j}%)` }));
    const rest = v.count - v.nouns.reduce((s, n) => s + n.count, 0);
    return rest > 0 ? [...nouns, { name: `${v.verb} (other)`, value: rest, fill: '#eef0f3' }] : nouns;
  });
  return (
    <figure className="ss-rings" data-testid="ss-verb-rings" data-verbs={summary.verbs.length} data-total={summary.total}>
      <figcaption>
        Root verbs and their objects <span className="muted">· {summary.total} accepted{summary.noVerb ? `, ${summary.noVerb} without a verb` : ''}</span>
      </figcaption>
      {inner.length === 0 ? (
        <div className="chart-empty">Verbs appear as instructions are accepted</div>
      ) : (
        <ResponsiveContainer width="100%" height={300}>
          <PieChart>
            <Pie data={inner} dataKey="value" nameKey="name" cx="50%" cy="50%" outerRadius="48%" isAnimationActive={false} label={innerLabel} labelLine={false} stroke="#fff">
              {inner.map((d) => (
                <Cell key={d.name} fill={d.fill} />
              ))}
            </Pie>
            <Pie data={outer} dataKey="value" nameKey="name" cx="50%" cy="50%" innerRadius="52%" outerRadius="78%" isAnimationActive={false} stroke="#fff" label={(e: { name?: string; value?: number }) => (e.name && !e.name.endsWith('(other)') ? e.name.split(' ').slice(1).join(' ') : '')} labelLine={false}>
              {outer.map((d) => (
                <Cell key={d.name} fill={d.fill} />
              ))}
            </Pie>
            <Tooltip formatter={(v, n) => [`${v}`, String(n)]} />
          </PieChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}

/**
 * The live line charts of a training run (loss, learning rate, gradient norm, tokens/s against the
 * step): the Train panel's, shared with the Self-specialization panel's Specialise stage.
 */
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

function fmtTick(v: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-2 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toPrecision(4).replace(/\.?0+$/, '');
}

export interface ChartProps {
  title: string;
  data: Array<Record<string, number>>;
  dataKey: string;
  color: string;
  testId: string;
  empty?: string;
  log?: boolean;
}

export function MiniChart({ title, data, dataKey, color, testId, empty }: ChartProps) {
  const last = data.length ? data[data.length - 1][dataKey] : undefined;
  return (
    <figure className="chart" data-testid={testId} data-points={data.length}>
      <figcaption>
        <span>{title}</span>
        <span className="chart-last">{last !== undefined ? fmt(last) : ''}</span>
      </figcaption>
      {data.length === 0 ? (
        <div className="chart-empty">{empty ?? 'No data yet'}</div>
      ) : (
        <ResponsiveContainer width="100%" height={150}>
          <LineChart data={data} margin={{ top: 6, right: 10, bottom: 0, left: -8 }}>
            <CartesianGrid stroke="#eef0f3" vertical={false} />
            <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} tick={{ fontSize: 11 }} allowDecimals={false} />
            <YAxis tick={{ fontSize: 11 }} width={54} domain={['auto', 'auto']} tickFormatter={fmtTick} />
            <Tooltip formatter={(v) => fmt(Number(v))} labelFormatter={(s) => `step ${s}`} />
            <Line type="monotone" dataKey={dataKey} stroke={color} strokeWidth={2} dot={data.length < 30} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}


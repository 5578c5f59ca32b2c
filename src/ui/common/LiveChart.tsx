/**
 * The live line charts of a training run (loss, learning rate, gradient norm, tokens/s against the
 * step): the Train panel's, shared with the Self-specialization panel's Specialise stage.
 */
import { useMemo, useRef, useState } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { smoothSeries } from './smooth';
import { ChartExport } from './ChartExport';

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

export function MiniChart({ title, data, dataKey, color, testId, empty, scaleOptions }: ChartProps & { scaleOptions?: boolean }) {
  const fig = useRef<HTMLElement>(null);
  const [logY, setLogY] = useState(false);
  const [smooth, setSmooth] = useState(false);
  const last = data.length ? data[data.length - 1][dataKey] : undefined;
  const shown = useMemo(() => {
    if (!smooth) return data;
    const sm = smoothSeries(
      data.map((d) => d[dataKey]!),
      0.8,
    );
    return data.map((d, i) => ({ ...d, smoothed: sm[i]! }));
  }, [data, dataKey, smooth]);
  return (
    <figure className="chart" data-testid={testId} data-points={data.length} ref={fig}>
      <figcaption>
        <span>{title}</span>
        <span className="chart-tools">
          {scaleOptions && data.length > 0 && (
            <>
              <label className="chart-toggle">
                <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} /> log
              </label>
              <label className="chart-toggle">
                <input type="checkbox" checked={smooth} onChange={(e) => setSmooth(e.target.checked)} /> smooth
              </label>
            </>
          )}
          {data.length > 0 && <ChartExport target={fig} title={title} rows={shown} />}
          <span className="chart-last">{last !== undefined ? fmt(last) : ''}</span>
        </span>
      </figcaption>
      {data.length === 0 ? (
        <div className="chart-empty">{empty ?? 'No data yet'}</div>
      ) : (
        <ResponsiveContainer width="100%" height={150}>
          <LineChart data={shown} margin={{ top: 6, right: 10, bottom: 0, left: -8 }}>
            <CartesianGrid stroke="#eef0f3" vertical={false} />
            <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} tick={{ fontSize: 11 }} allowDecimals={false} />
            <YAxis tick={{ fontSize: 11 }} width={54} domain={['auto', 'auto']} scale={logY ? 'log' : 'auto'} allowDataOverflow={logY} tickFormatter={fmtTick} />
            <Tooltip formatter={(v) => fmt(Number(v))} labelFormatter={(s) => `step ${s}`} />
            <Line type="monotone" dataKey={dataKey} stroke={color} strokeWidth={smooth ? 1 : 2} strokeOpacity={smooth ? 0.35 : 1} dot={!smooth && data.length < 30} isAnimationActive={false} />
            {smooth && <Line type="monotone" dataKey="smoothed" stroke={color} strokeWidth={2} dot={false} isAnimationActive={false} />}
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}


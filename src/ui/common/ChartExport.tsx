import type { RefObject } from 'react';
import { canvasToPng, fileStem, rowsToCsv, standaloneSvg, svgToPng } from './chart-export';
import { downloadBlob, downloadText } from './download';

interface Props {
  /** The element holding the chart (its first <svg> or <canvas> is exported). */
  target: RefObject<HTMLElement | null>;
  title: string;
  rows: ReadonlyArray<Record<string, unknown>>;
  columns?: string[];
  /** The chart is drawn on a canvas: no SVG button (the target may not be mounted at first render). */
  raster?: boolean;
}

/** PNG, SVG (charts drawn as SVG) and CSV downloads of a chart. */
export function ChartExport({ target, title, rows, columns, raster }: Props) {
  const stem = fileStem(title);
  const svg = () => target.current?.querySelector('svg.recharts-surface, svg') as SVGSVGElement | null;
  const canvas = () => target.current?.querySelector('canvas') as HTMLCanvasElement | null;
  const png = async () => {
    const c = canvas();
    if (c) return downloadBlob(await canvasToPng(c), `${stem}.png`);
    const s = svg();
    if (!s) return;
    const box = s.getBoundingClientRect();
    downloadBlob(await svgToPng(standaloneSvg(s), box.width, box.height), `${stem}.png`);
  };
  return (
    <span className="chart-export" role="group" aria-label={`Export ${title}`}>
      <button type="button" className="link small" onClick={() => void png()} title="Download the chart as PNG">
        PNG
      </button>
      {!raster && (
        <button
          type="button"
          className="link small"
          onClick={() => {
            const s = svg();
            if (s) downloadText(standaloneSvg(s), `${stem}.svg`, 'image/svg+xml');
          }}
          title="Download the chart as SVG"
          disabled={!!target.current?.querySelector('canvas') && !target.current?.querySelector('svg')}
        >
          SVG
        </button>
      )}
      <button type="button" className="link small" onClick={() => downloadText(rowsToCsv(rows, columns), `${stem}.csv`, 'text/csv')} title="Download the chart's data as CSV">
        CSV
      </button>
    </span>
  );
}

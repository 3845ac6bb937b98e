import type { RefObject } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SeriesSpec {
  label: string;
  /** A CSS custom property of styles.css, e.g. '--c1': follows the light or dark theme. */
  color: string;
  values: (number | null)[];
  bars?: boolean;
  /** Drawn against the right-hand axis (e.g. an error rate next to latencies). */
  right?: boolean;
}

type Unit = (value: number) => string;

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

function useUplot(
  makeOptions: (width: number) => uPlot.Options,
  data: uPlot.AlignedData,
  deps: unknown[],
): RefObject<HTMLDivElement | null> {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const build = () => {
      plot.current?.destroy();
      plot.current = new uPlot(makeOptions(Math.max(element.clientWidth, 120)), data, element);
    };
    build();
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(element.clientWidth, 120), height: plot.current.height }));
    resize.observe(element);
    darkQuery.addEventListener('change', build);
    return () => {
      resize.disconnect();
      darkQuery.removeEventListener('change', build);
      plot.current?.destroy();
      plot.current = null;
    };
  }, deps);
  return box;
}

const DAY = 86_400;
const DAY_INCRS = [1, 2, 7, 14, 28, 56, 91, 182, 365].map((d) => d * DAY);

/** Half a bucket of room either side; a daily chart spans at least a week. */
function xRange(x: number[], step: number, daily: boolean): uPlot.Range.MinMax {
  const first = Math.min(...x);
  const last = Math.max(...x);
  return [Math.min(first, daily ? last - 6 * step : first) - step / 2, last + step / 2];
}

/** A time series chart (x in seconds). The caption doubles as its accessible name. */
export function TimeChart(props: { caption: string; x: number[]; series: SeriesSpec[]; height?: number; unit?: Unit; rightUnit?: Unit; step?: number; integers?: boolean }) {
  const { caption, x, series, height = 220, unit = (v) => String(v), rightUnit, step, integers } = props;
  const data = [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
  const daily = (step ?? 0) >= DAY;
  const box = useUplot(
    (width) => {
      const axisColor = cssVar('--muted');
      const gridColor = cssVar('--grid');
      const axis = (scale: string, format: Unit, side?: number): uPlot.Axis => ({
        scale,
        ...(side !== undefined ? { side } : {}),
        stroke: axisColor,
        grid: { stroke: gridColor, width: 1, show: side === undefined },
        ticks: { show: false },
        size: 56,
        // Counts have whole-number ticks only.
        ...(integers && scale === 'y' ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6] } : {}),
        values: (_u, splits) => splits.map((v) => (v === null ? '' : format(v))),
      });
      return {
        width,
        height,
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
        // Bars get half a bucket of room on either side, so the first and last are not cut in half.
        // Day buckets are UTC days: label them in UTC, with whole-day ticks, over at least a week, so one day of data
        // is one bar among dates rather than a bar spread over hour ticks.
        ...(daily ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC') } : {}),
        scales: { x: { time: true, ...(step && x.length ? { range: xRange(x, step, daily) } : {}) }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, r: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [
          { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { show: false }, ...(daily ? { incrs: DAY_INCRS } : {}) },
          axis('y', unit),
          ...(rightUnit ? [axis('r', rightUnit, 1)] : []),
        ],
        series: [
          {},
          ...series.map((s) => {
            const color = cssVar(s.color);
            return {
              label: s.label,
              scale: s.right ? 'r' : 'y',
              stroke: color,
              width: s.bars ? 0 : 2,
              fill: s.bars ? color : undefined,
              spanGaps: true,
              // Sparse series (a quiet day with one busy hour) would draw nothing as a line alone: show their points.
              points: { show: !s.bars && s.values.filter((v) => v !== null).length <= 30, size: 6 },
              value: (_u: uPlot, v: number | null) => (v === null ? '—' : (s.right && rightUnit ? rightUnit : unit)(v)),
              ...(s.bars ? { paths: uPlot.paths.bars!({ size: [0.7, 40] }) } : {}),
            } satisfies uPlot.Series;
          }),
        ],
      };
    },
    data,
    [JSON.stringify(data), caption, height, step, integers],
  );
  return (
    <figure class="chart">
      <figcaption>{caption}</figcaption>
      <div ref={box} role="img" aria-label={caption} />
    </figure>
  );
}

/** A tiny trend line for a stat card: no axes, no legend, no cursor. */
export function Sparkline(props: { x: number[]; values: (number | null)[]; color?: string; label: string }) {
  const { x, values, color = '--c1', label } = props;
  const data = [x, values] as uPlot.AlignedData;
  const box = useUplot(
    (width) => {
      const stroke = cssVar(color);
      return {
        width,
        height: 36,
        legend: { show: false },
        cursor: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        axes: [{ show: false }, { show: false }],
        // A little room below zero keeps a flat line at zero visible.
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [-(max > 0 ? max : 1) * 0.08, max > 0 ? max * 1.15 : 1] } },
        // A lone value (one busy hour) is a dot, not nothing.
        series: [{}, { stroke, width: 1.5, fill: `${stroke}22`, spanGaps: true, points: { show: values.filter((v) => v !== null).length < 3, size: 5, fill: stroke } }],
      };
    },
    data,
    [JSON.stringify(data), color],
  );
  return <div class="spark" ref={box} role="img" aria-label={label} />;
}

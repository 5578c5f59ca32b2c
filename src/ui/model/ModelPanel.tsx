import { CacheCard } from './CacheCard';
import { GpuCard } from './GpuCard';
import { ProgressCard } from './ProgressCard';
import { SourceCard } from './SourceCard';
import { SummaryCard } from './SummaryCard';

export function ModelPanel() {
  return (
    <div className="panel-grid">
      <div className="col">
        <SourceCard />
        <ProgressCard />
        <SummaryCard />
      </div>
      <div className="col col-side">
        <GpuCard />
        <CacheCard />
      </div>
    </div>
  );
}

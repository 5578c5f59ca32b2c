import { DefinitionCard } from './DefinitionCard';
import { ProgressCard } from './ProgressCard';
import { ResultsCard } from './ResultsCard';
import { RunCard, SavedCard } from './RunCard';

/**
 * Experiments: define (form or JSON), run in the worker cell by cell (resumable), watch, and read
 * the paper-shaped tables and charts.
 */
export function ExperimentsPanel() {
  return (
    <div className="stack">
      <div className="panel-grid">
        <div className="col">
          <DefinitionCard />
        </div>
        <div className="col col-side">
          <RunCard />
          <SavedCard />
        </div>
      </div>
      <ProgressCard />
      <ResultsCard />
    </div>
  );
}

/**
 * Experiments: the public API for the app's Experiments panel and the CLI.
 *
 *   validateExperiment(json)                         → { ok, definition } | { ok: false, errors }
 *   runExperiment(engine, def, { signal, onProgress, previous, onCell, onLibrary, fetchText })
 *                                                     → ExperimentResults (resumable, cancellable)
 *   buildTables(results) / formatMarkdown / formatCsv → the paper-shaped tables
 */
export { BUILTIN_TASKS, builtinTask, validateTaskDefinition } from './tasks';
export { ExperimentDefinitionError, parseExperiment, validateExperiment, type ValidateOptions, type ValidationResult } from './definition';
export { checkDatasetTask, datasetTask, inferKind, mappingOf, mappingProblems, type DatasetMapping, type ExperimentDataset } from './dataset-task';
export { cellId, planCells, runExperiment, type PlannedCell, type RunExperimentOptions } from './runner';
export { buildTables, fmtNum, formatCellsCsv, formatCsv, formatMarkdown, tableCsv, tableMarkdown, type ResultTable, type ResultTables, type TableCell, type TableRow } from './report';
export { nearestNeighbours, similarity, parseAnswers } from './baselines';
export { parseFirstNumber } from './generation';
export * from './types';

// index.ts — the public surface of the data layer for other parts of zhongjing (train, eval, serve, annotate).
// Import from here rather than from individual files; nothing is defined here.
export type { Conversation, ConversationMeta, DataRecord, MultipleChoice, PlainText, PreferenceSet, RankedCandidate, Role, SourceRef, Turn } from './types.js';
export { DataError, RecordError, formatProblem, type Problem } from './errors.js';
export { detectEncoding, type Encoding } from './encoding.js';
export { readRaw, sniff, type Format, type ReadOptions } from './readers.js';
export { detectShape, parsePacked, parseRoles, parseTurnMap, toRecord, type DoctorFirst, type LayoutNotes, type RoleLabels, type ShapeName, type ShapeOptions, type TurnMap } from './shapes.js';
export { balanced, loadFile, streamFile, type FileReport, type LoadOptions, type OnError } from './load.js';
export * from './ranking-format.js';
export { toLine, toOutput, outFormats, type OutFormat } from './writers.js';
export { normalizeText } from './normalize.js';
export { deidentify, isValidResidentId, PLACEHOLDER, type DeidCounts } from './deid.js';
export { NearDupIndex, Hash64Set, hash64 } from './minhash.js';
export { Cleaner, cleanStream, type CleanOptions, type CleanReport } from './clean.js';
export * from './samples.js';
export * from './medical-rules.js';
export { generateDemo, validateDemo, writeDemo, sizePresets, rankByFlaws, conditions, departments, type DemoCorpus, type DemoSizes } from './demo/index.js';

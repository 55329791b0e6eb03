// errors.ts — the one error type of the data layer: every problem is located as `file:line: field: reason`.
// No policy here (fail vs skip lives in load.ts).

export interface Problem {
  file: string;
  line: number;
  field: string;
  reason: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}: ${p.field}: ${p.reason}`;
}

/** A problem that stops reading a whole file (truncated JSON, unknown encoding, unsupported shape…). */
export class DataError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(formatProblem(problem));
    this.problem = problem;
    this.name = 'DataError';
  }
}

/** Thrown by shape converters for one record; the loader turns it into a located Problem. */
export class RecordError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'RecordError';
  }
}

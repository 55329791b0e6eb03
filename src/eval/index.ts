// index.ts — the programmatic API of evaluation that the training pipeline's final report calls (documented in
// docs/evaluation.md). Re-exports only; the CLI (src/cli/eval.ts) is a thin layer over the same functions.
export type { EvalItem, AnswerRecord, Dimension, Outcome, PairVerdict } from './types.js';
export { DIMENSIONS, OUTCOMES } from './types.js';
export { loadItems, loadItemsReport, itemsOfRecords, itemsOfConversation, itemMessages, type TurnSelection } from './items.js';
export { generateAnswers, apiAnswerer, answersToJsonl, answerKey, type Answerer, type GenerateProgress } from './generate.js';
export { ChatClient, ApiError, parseCompletion, type ApiConfig, type ChatParams } from './openai-client.js';
export { loadRule, defaultRulePath, judgeSystemPrompt, judgeUserPrompt } from './rule.js';
export {
  llmJudge, rewardModelJudge, safetyAbilityRuleJudge, parseVerdict, combineOrders, ruleSafetyScore, ruleAbilityScore, DEMO_JUDGE_NAME,
  type PairJudge, type ScoreFn, type LlmJudgeOptions, type RewardJudgeOptions,
} from './judges.js';
export { verdictsFromRankings } from './human-verdicts.js';
export {
  comparePairwise, resultOf, tallyVerdicts, tallyShares, cohenKappa, judgeAgreement,
  type PairwiseResult, type Tally, type Kappa, type System,
} from './pairwise.js';
export { distinctN, inquiryRate, careRate, lengthStats, answerMetrics, type AnswerMetrics } from './metrics.js';
export {
  loadMcq, mcqPrompt, fewShotPrompts, extractChoice, scoreByLogLikelihood, scoreByExtraction, mcqTable,
  type McqItem, type McqPrediction, type McqTable, type LogLikelihoodFn,
} from './mcq.js';
export { perplexity, type TokenLogProbFn, type PerplexityResult } from './perplexity.js';
export { readAnswers, readVerdicts, readMcqPredictions } from './rescore.js';
export { readPublishedMcq, type PublishedMcq, type PublishedMcqOptions } from './mcq-predictions.js';
export { bootstrapMean, bootstrapProportion, signTest, formatInterval, type Interval, type SignTest } from './stats.js';
export { emptyReport, pickExamples, renderReportHtml, type EvalReport } from './report.js';
export { loadLocalModel, type LocalModel, type LocalModelOptions } from './local-model.js';
export {
  compareModels, judgeAnswerSets, humanJudgeFrom,
  type CompareModelsOptions, type JudgeAnswerSetsOptions, type AnswerSet, type AnyJudge, type HumanJudge,
} from './compare-models.js';
export { openSystem, type SystemSpec, type SamplingSpec, type OpenedSystem } from './systems.js';
export { runMcq, runPerplexity, heldOutText, type McqRunOptions } from './benchmark-runs.js';
export { scoreOutputs, joinAnswersWithItems, type ScoreOutputsOptions } from './score-outputs.js';
export { rubricTargetsFromAnswers, rubricTargetsFromConsult, runRubric } from './rubric-run.js';
export { loadRubric, defaultRubricPath, validateRubric, rubricSystemPrompt, type Rubric, type Criterion } from './rubric.js';
export { parseScoreText, parseScoreObject, type ParsedScores } from './rubric-parse.js';
export { rubricTable, rubricTables, rubricSignTests, readJudgeScores, type RubricTable, type RubricItemScore, type RubricComparison } from './rubric-score.js';
export { rubricJudge, rubricUserPrompt, type RubricJudge, type RubricTarget } from './rubric-judge.js';
export { runConsult, rulePatient, llmPatient, summariseConsult, parseCases, factsAsked, type ConsultCase, type ConsultOutcome, type ConsultSummary, type Patient } from './consult.js';

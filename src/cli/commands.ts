// commands.ts — the list of subcommands. Add one import and one entry per command file.
import type { Command } from './command.js';
import { infoCommand } from './info.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { exportCommand } from './export.js';
import { chatCommand } from './chat.js';
import { dataCommand } from './data.js';
import { annotateCommand } from './annotate.js';
import { evalCommand } from './eval.js';
import { serveCommand } from './serve.js';
import { pipelineCommand } from './pipeline.js';
import { trainCommand } from './train.js';
import { tokenizerCommand } from './tokenizer.js';
import { modelCommand } from './model.js';
import { importCommand } from './import.js';

export const commands: Command[] = [infoCommand, benchCommand, demoCommand, exportCommand, chatCommand, annotateCommand, dataCommand, evalCommand, serveCommand, pipelineCommand, trainCommand, tokenizerCommand, modelCommand, importCommand];

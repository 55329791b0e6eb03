// child-train.ts — run by the kill -9 test in a child process: trains the tiny task with a checkpoint
// every step (resuming if one exists), then writes the final weights to <outDir>/final.bin.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { train } from '../../src/train/loop.js';
import { tinyLoop, tinyModel, tinyTask } from './tiny-task.js';

const [outDir, steps] = [process.argv[2]!, Number(process.argv[3])];
const model = tinyModel();
const res = await train({ ...tinyTask(model), loss: (p) => { process.stdout.write(`micro ${p}\n`); return tinyTask(model).loss(p); } },
  tinyLoop(outDir, steps, { saveEvery: Number(process.argv[4] ?? 1) }));
if (res.interrupted) process.stdout.write(`interrupted at ${res.steps}\n`);
const parts = model.parameters().map((p) => Buffer.from((p.data as Float32Array).buffer.slice(0)));
writeFileSync(join(outDir, 'final.bin'), Buffer.concat(parts));

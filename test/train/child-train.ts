// child-train.ts — run by the kill -9 tests in a child process: trains the tiny task with a checkpoint every
// `saveEvery` steps (resuming if one exists), then writes the final weights to <outDir>/final.bin.
// argv: outDir steps [saveEvery=1] [fault]; fault `POINT:STEP` SIGKILLs the process just before that step of the
// checkpoint protocol, `sigint@POINT:STEP` sends itself SIGINT there (a Ctrl-C that lands during a periodic save)
// and SIGKILLs at any later protocol step of a save of the same step (which must then never happen).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { train } from '../../src/train/loop.js';
import { checkpointFaults } from '../../src/train/checkpoint.js';
import { tinyLoop, tinyModel, tinyTask } from './tiny-task.js';

const [outDir, steps] = [process.argv[2]!, Number(process.argv[3])];
const fault = process.argv[5];
if (fault) {
  const sigint = fault.startsWith('sigint@');
  const [point, at] = (sigint ? fault.slice(7) : fault).split(':');
  let signalled = false, finished = false;
  checkpointFaults.hook = (p, _file, step) => {
    if (step !== Number(at)) return;
    if (!sigint) { if (p === point) process.kill(process.pid, 'SIGKILL'); return; }
    if (signalled && finished) process.kill(process.pid, 'SIGKILL'); // a second save of this step began
    if (p === point && !signalled) { signalled = true; process.kill(process.pid, 'SIGINT'); }
    if (p === 'prune') finished = true;
  };
}
const model = tinyModel();
const res = await train({ ...tinyTask(model), loss: (p) => { process.stdout.write(`micro ${p}\n`); return tinyTask(model).loss(p); } },
  tinyLoop(outDir, steps, { saveEvery: Number(process.argv[4] ?? 1) }));
if (res.interrupted) process.stdout.write(`interrupted at ${res.steps}\n`);
const parts = model.parameters().map((p) => Buffer.from((p.data as Float32Array).buffer.slice(0)));
writeFileSync(join(outDir, 'final.bin'), Buffer.concat(parts));

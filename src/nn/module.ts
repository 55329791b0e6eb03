// module.ts — Module: a named tree of parameters and submodules, so checkpoints can use the file
// format's names (HF: model.layers.0.self_attn.q_proj.weight) without reflection tricks.
import type { Tensor } from '../tensor/tensor.js';

export abstract class Module {
  private readonly slots = new Map<string, Module | Tensor>();

  /** Register a submodule or parameter under a name (the file format's name). */
  protected add<T extends Module | Tensor>(name: string, child: T): T {
    if (this.slots.has(name)) throw new Error(`[Module] '${name}' registered twice`);
    this.slots.set(name, child);
    return child;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, child] of this.slots) {
      const full = prefix ? `${prefix}.${name}` : name;
      if (child instanceof Module) out.push(...child.namedParameters(full));
      else out.push([full, child]);
    }
    return out;
  }

  /**
   * Swap the tensor registered under a dotted name (model.layers.0.mlp.up_proj.weight) for another of the same
   * shape, e.g. a checkpoint's weight in its own dtype; the module field holding the old tensor follows.
   */
  replaceParameter(path: string, t: Tensor): void {
    const parts = path.split('.');
    let m: Module = this;
    for (const p of parts.slice(0, -1)) {
      const c = m.slots.get(p);
      if (!(c instanceof Module)) throw new Error(`[Module] no submodule '${p}' on the way to '${path}'`);
      m = c;
    }
    const leaf = parts[parts.length - 1]!;
    const old = m.slots.get(leaf);
    if (!old || old instanceof Module) throw new Error(`[Module] no parameter '${path}'`);
    if (old.shape.join() !== t.shape.join())
      throw new Error(`[Module] '${path}': new tensor [${t.shape}] differs from the registered [${old.shape}]`);
    m.slots.set(leaf, t);
    // fields are named in camelCase, slots in the file format's names: find the field by identity
    const fields = m as unknown as Record<string, unknown>;
    for (const k of Object.keys(fields)) if (fields[k] === old) fields[k] = t;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Number of scalar parameters. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }
}

/** An ordered list of modules named 0, 1, 2 … (HF's layers.{i}). */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items;
    items.forEach((m, i) => this.add(String(i), m));
  }
}

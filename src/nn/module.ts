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

/**
 * Step dependency graphs: cycle detection that shows the cycle, and ancestry for checking which
 * step outputs a step may read.
 */
export interface DagNode {
  readonly id: string;
  readonly dependsOn: readonly string[];
}

/** A cycle as the list of ids walked (first id repeated at the end), or undefined. */
export function findCycle(nodes: readonly DagNode[]): string[] | undefined {
  const deps = new Map(nodes.map((n) => [n.id, n.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      const cycle = visit(d);
      if (cycle !== undefined) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const n of nodes) {
    const cycle = visit(n.id);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

/** Every step `id` depends on, directly or through others (the graph must be acyclic). */
export function ancestors(nodes: readonly DagNode[], id: string): Set<string> {
  const deps = new Map(nodes.map((n) => [n.id, n.dependsOn]));
  const seen = new Set<string>();
  const walk = (x: string): void => {
    for (const d of deps.get(x) ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        walk(d);
      }
    }
  };
  walk(id);
  return seen;
}

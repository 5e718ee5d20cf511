// Lists the import cycles among the project's own modules (static and type imports alike,
// as `deno info` reports them) and exits 1 if there is any. Run: deno run -A tools/import_cycles.ts
// (CI runs it through the check task).

const ENTRIES = ["mod.ts", "cli.ts", "bench/main.ts"];

interface Info {
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
  }[];
}

const root = new URL("../", import.meta.url).href;
const edges = new Map<string, string[]>();
for (const entry of ENTRIES) {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL(root),
    stdout: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`tools/import_cycles.ts: \`deno info --json ${entry}\` failed`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as Info;
  for (const m of info.modules) {
    if (!m.specifier.startsWith(root)) continue;
    const deps = (m.dependencies ?? []).map((d) => d.code?.specifier ?? d.type?.specifier)
      .filter((s): s is string => !!s && s.startsWith(root));
    edges.set(m.specifier, deps);
  }
}

// Tarjan's strongly connected components: every component of more than one module is a cycle.
let index = 0;
const order = new Map<string, number>(), low = new Map<string, number>();
const stack: string[] = [], onStack = new Set<string>();
const cycles: string[][] = [];
function visit(v: string): void {
  order.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v) ?? []) {
    if (!order.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
  }
  if (low.get(v) === order.get(v)) {
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w.slice(root.length));
    } while (w !== v);
    if (component.length > 1) cycles.push(component);
  }
}
for (const v of edges.keys()) if (!order.has(v)) visit(v);

if (cycles.length) {
  for (const c of cycles) console.log(`import cycle: ${c.join(" <-> ")}`);
  Deno.exit(1);
}
console.log(`no import cycles among ${edges.size} modules`);

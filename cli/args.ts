// A small declarative flag parser: each subcommand lists its flags (name, type, help), and
// the same list produces the parsed values, the error messages that name the bad flag, and
// the subcommand's --help text.

export class UsageError extends Error {
  override name = "UsageError";
}

export type FlagType = "string" | "number" | "int" | "bool" | "list" | "choice";

export interface FlagSpec {
  /** Long name without dashes, kebab-case: "head-lr-mult". */
  name: string;
  type: FlagType;
  help: string;
  /** For "choice": the accepted values. */
  choices?: readonly string[];
  /** Placeholder in the help text, e.g. PATH. */
  metavar?: string;
  /** Shown in the help text only; parsed values omit flags that were not given. */
  defaultText?: string;
  /** One-letter alias, e.g. "h" for help. */
  short?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage line(s) after "deno run -A cli.ts". */
  usage: string[];
  flags: readonly FlagSpec[];
  /** Name of the positional arguments (e.g. "IMAGE..."), or absent when none are taken. */
  positionals?: string;
  /** Extra paragraphs for --help (examples, notes). */
  notes?: string[];
}

export type FlagValue = string | number | boolean | string[];

export interface Parsed {
  /** Given flags only, by kebab-case name. */
  values: Map<string, FlagValue>;
  positionals: string[];
  help: boolean;
}

const HELP: FlagSpec = { name: "help", short: "h", type: "bool", help: "show this help and exit" };

/** Parses argv against a command's flags; throws UsageError naming the offending flag. */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): Parsed {
  const flags = [...spec.flags, HELP];
  const byName = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      const f = byShort.get(arg.slice(1));
      if (!f) {
        throw new UsageError(`unknown option ${arg}${suggest(arg.slice(1), flags)} (see --help)`);
      }
      name = f.name;
    }
    let flag = byName.get(name);
    let negated = false;
    if (!flag && name.startsWith("no-") && byName.has(name.slice(3))) {
      flag = byName.get(name.slice(3))!;
      negated = true;
    }
    if (!flag) {
      throw new UsageError(
        `${spec.name}: unknown option --${name}${suggest(name, flags)} (see '${spec.name} --help')`,
      );
    }
    if (flag.type === "bool") {
      if (inline !== undefined) {
        if (!["true", "false", "1", "0"].includes(inline)) {
          throw new UsageError(`--${flag.name}: expected true or false, got "${inline}"`);
        }
        values.set(flag.name, (inline === "true" || inline === "1") !== negated);
      } else values.set(flag.name, !negated);
      if (flag.name === "help") help = true;
      continue;
    }
    if (negated) throw new UsageError(`--no-${flag.name}: only on/off options can be negated`);
    let raw = inline;
    if (raw === undefined) {
      if (i + 1 >= argv.length) {
        throw new UsageError(`--${flag.name}: missing value (${describe(flag)})`);
      }
      raw = argv[++i];
    }
    values.set(flag.name, convert(flag, raw));
  }
  if (!help && !spec.positionals && positionals.length > 0) {
    throw new UsageError(
      `${spec.name}: unexpected argument "${
        positionals[0]
      }" (this command takes only options; see --help)`,
    );
  }
  return { values, positionals, help };
}

function describe(f: FlagSpec): string {
  switch (f.type) {
    case "number":
      return "a number";
    case "int":
      return "an integer";
    case "list":
      return "a comma-separated list";
    case "choice":
      return `one of ${f.choices!.join(", ")}`;
    default:
      return f.metavar ?? "a value";
  }
}

function convert(f: FlagSpec, raw: string): FlagValue {
  switch (f.type) {
    case "string":
      if (raw === "") throw new UsageError(`--${f.name}: empty value`);
      return raw;
    case "number":
    case "int": {
      const x = raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(x) || (f.type === "int" && !Number.isInteger(x))) {
        throw new UsageError(`--${f.name}: expected ${describe(f)}, got "${raw}"`);
      }
      return x;
    }
    case "list": {
      const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (items.length === 0) {
        throw new UsageError(`--${f.name}: expected ${describe(f)}, got "${raw}"`);
      }
      return items;
    }
    case "choice":
      if (!f.choices!.includes(raw)) {
        throw new UsageError(`--${f.name}: "${raw}" is not ${describe(f)}`);
      }
      return raw;
    default:
      throw new Error(`unhandled flag type ${f.type}`);
  }
}

/** " (did you mean --x?)" for a near miss, else "". */
function suggest(name: string, flags: readonly FlagSpec[]): string {
  let best = "", bestD = Infinity;
  for (const f of flags) {
    const d = editDistance(name, f.name);
    if (d < bestD) [best, bestD] = [f.name, d];
  }
  return bestD <= Math.max(1, Math.floor(name.length / 3)) ? ` (did you mean --${best}?)` : "";
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The --help text of a command, generated from its flags. */
export function helpText(spec: CommandSpec): string {
  const lines = [`${spec.name}: ${spec.summary}`, "", "Usage:"];
  for (const u of spec.usage) lines.push(`  deno run -A cli.ts ${u}`);
  lines.push("", "Options:");
  const rows = [...spec.flags, HELP].map((f) => {
    const value = f.type === "bool" ? "" : ` ${f.metavar ?? placeholder(f)}`;
    const left = `${f.short ? `-${f.short}, ` : "    "}--${f.name}${value}`;
    const def = f.defaultText !== undefined ? ` [default: ${f.defaultText}]` : "";
    return [left, f.help + def] as const;
  });
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  for (const [left, right] of rows) {
    if (left.length + 2 > width) lines.push(`  ${left}`, `  ${" ".repeat(width)}${right}`);
    else lines.push(`  ${left.padEnd(width)}${right}`);
  }
  for (const note of spec.notes ?? []) lines.push("", note);
  return lines.join("\n");
}

function placeholder(f: FlagSpec): string {
  if (f.type === "choice") return f.choices!.join("|");
  if (f.type === "int" || f.type === "number") return "N";
  if (f.type === "list") return "A,B,...";
  return "VALUE";
}

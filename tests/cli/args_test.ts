import assert from "node:assert/strict";
import { type CommandSpec, helpText, parseArgs, UsageError } from "../../cli/args.ts";

const SPEC: CommandSpec = {
  name: "demo",
  summary: "a demo command",
  usage: ["demo [options]"],
  flags: [
    { name: "lr", type: "number", help: "learning rate", defaultText: "0.01" },
    { name: "epochs", type: "int", help: "epochs" },
    { name: "classes", type: "list", help: "classes" },
    { name: "optimizer", type: "choice", choices: ["sgd", "adam"], help: "optimizer" },
    { name: "nesterov", type: "bool", help: "nesterov" },
    { name: "data", type: "string", help: "data" },
  ],
};

Deno.test("parseArgs: values of every type, --flag=value, --no-flag and positionals", () => {
  const p = parseArgs({ ...SPEC, positionals: "FILE..." }, [
    "--lr",
    "1e-3",
    "--epochs=4",
    "--classes",
    "a, b,c",
    "--optimizer",
    "adam",
    "--no-nesterov",
    "x.png",
    "--data",
    "d",
    "--",
    "--not-a-flag",
  ]);
  assert.equal(p.values.get("lr"), 1e-3);
  assert.equal(p.values.get("epochs"), 4);
  assert.deepEqual(p.values.get("classes"), ["a", "b", "c"]);
  assert.equal(p.values.get("optimizer"), "adam");
  assert.equal(p.values.get("nesterov"), false);
  assert.equal(p.values.get("data"), "d");
  assert.deepEqual(p.positionals, ["x.png", "--not-a-flag"]);
  assert.equal(p.help, false);
  assert.equal(parseArgs(SPEC, ["--nesterov"]).values.get("nesterov"), true);
  assert.equal(parseArgs(SPEC, ["-h"]).help, true);
});

Deno.test("parseArgs: errors name the flag and what it expects", () => {
  const fails = (argv: string[], pattern: RegExp) =>
    assert.throws(
      () => parseArgs(SPEC, argv),
      (e: Error) => e instanceof UsageError && pattern.test(e.message),
    );
  fails(["--lr", "fast"], /--lr: expected a number, got "fast"/);
  fails(["--epochs", "2.5"], /--epochs: expected an integer/);
  fails(["--optimizer", "rmsprop"], /--optimizer: "rmsprop" is not one of sgd, adam/);
  fails(["--epochs"], /--epochs: missing value/);
  fails(["--lr="], /--lr: expected a number/);
  fails(["--epoch", "3"], /unknown option --epoch \(did you mean --epochs\?\)/);
  fails(["--zzz"], /unknown option --zzz \(see/);
  fails(["stray"], /unexpected argument "stray"/);
  fails(["--no-lr"], /only on\/off options can be negated/);
  fails(["--nesterov=maybe"], /--nesterov: expected true or false/);
});

Deno.test("helpText lists every flag with its default", () => {
  const text = helpText(SPEC);
  for (const f of SPEC.flags) assert.match(text, new RegExp(`--${f.name}\\b`));
  assert.match(text, /learning rate \[default: 0\.01\]/);
  assert.match(text, /sgd\|adam/);
  assert.match(text, /-h, --help/);
});

// The command line: train, eval, predict, bench, info. Thin: the parsing and the
// subcommands live in cli/, the work in train/, nn/, data/ and bench/.

import { consoleIO } from "./cli/io.ts";
import { runCli } from "./cli/main.ts";

export { runCli };

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, consoleIO()));
}
